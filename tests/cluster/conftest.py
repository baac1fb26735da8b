"""Cluster tests run against a real ``redis-server`` (one per test module, flushed per test).

Redis timeouts are real time: a mock clock would jump past them while a socket waits, so these
tests use the real clock and bound every wait (``trio.fail_after``, ``wait_until_async``).
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar

import pytest

from chatactors.cluster.directory import Directory
from chatactors.cluster.node import open_cluster_link
from chatactors.cluster.redis import Channels, RedisLink, RedisUnavailable, open_channels
from tests.harness.waiting import wait_until_async
from tests.redis_server import RedisServer, start_redis_server

T = TypeVar("T")

#: Long enough for a loaded 2-core machine to answer; an outage test waits this long at most.
LINK_TIMEOUT_S = 1.0
#: Leases in these tests live long enough never to expire by accident mid-test.
LEASE_TTL_S = 30.0


@pytest.fixture(name="redis_server", scope="module")
def _redis_server() -> Iterator[RedisServer]:
    server = start_redis_server()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture(name="link")
async def _link(redis_server: RedisServer) -> AsyncIterator[RedisLink]:
    async with open_cluster_link(redis_server.url, timeout_s=LINK_TIMEOUT_S) as link:
        await link.execute("FLUSHALL")
        yield link


@pytest.fixture(name="directory")
def _directory(link: RedisLink) -> Directory:
    return Directory(link, lease_ttl_s=LEASE_TTL_S)


async def once_redis_answers(operation: Callable[[], Awaitable[T]], *, timeout_s: float = 10) -> T:
    """Run ``operation`` until it stops failing with ``RedisUnavailable`` (a link fails fast
    while Redis is known down, but for a probe per backoff), bounded."""
    answers: list[T] = []

    async def answered() -> bool:
        try:
            answers.append(await operation())
        except RedisUnavailable:
            return False
        return True

    await wait_until_async(answered, timeout_s, "Redis answered")
    return answers[0]


@pytest.fixture(name="channels")
async def _channels(link: RedisLink) -> AsyncIterator[Channels]:
    async with open_channels(link) as channels:
        yield channels


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    """Collect after each test, so a leaked connection warns in the test that leaked it."""
    yield
    gc.collect()
