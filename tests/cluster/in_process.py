"""In-process cluster nodes (``open_cluster_node``), each with its registry, on one real Redis
and one store: as serving builds them (web/lifespan.py), with a wall clock that moves only
when told to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeVar

from chatactors.actors.commands import Command
from chatactors.actors.registry import open_registry
from chatactors.cluster.node import ClusterNode, open_cluster_node
from chatactors.domain.ids import ChatId
from chatactors.storage.store import ChatStore
from tests.conftest import FakeWallClock, make_settings
from tests.redis_server import RedisServer

R = TypeVar("R")


@asynccontextmanager
async def open_node(
    redis_server: RedisServer, node_id: str, store: ChatStore, **overrides: Any
) -> AsyncIterator[ClusterNode]:
    """A node named ``node_id``; ``overrides`` are settings (``lease_ttl_s=1.0``...)."""
    settings = make_settings(
        store="sqlite", redis_url=redis_server.url, node_id=node_id, **overrides
    )
    opener = partial(open_registry, now=FakeWallClock())
    async with open_cluster_node(settings, store, open_local=opener) as node:
        yield node


async def call(node: ClusterNode, chat_id: ChatId, command: Command[R]) -> R:
    """What ``ChatHandle`` does over the node's mailbox: submit, then wait for the answer."""
    return await (await node.mailbox.submit(chat_id, command)).wait()
