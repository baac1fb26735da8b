"""Failover replies are "Redis unavailable": the operation fails with the link's ``unavailable``
(503 in the node), its connection is dropped, Redis is known down (operations fail at once but
for one probe per backoff), and the link is back by itself once Redis serves again.

Real servers: a Redis demoted to a replica answers ``READONLY`` to writes; a replica whose
primary is gone and that may not serve stale data answers ``MASTERDOWN``; a Redis loading a
snapshot answers ``LOADING`` (slowed down with its ``key-load-delay``). ``TRYAGAIN`` (Redis
Cluster, a slot moving) and a hung server come from small listeners on real sockets here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial

import pytest
import trio

from chatactors.cluster.directory import Directory
from chatactors.cluster.errors import ClusterUnavailable
from chatactors.cluster.node import open_cluster_link
from chatactors.cluster.redis import RedisFailingOver, RedisLink, RedisReplyError
from chatactors.domain.ids import ChatId
from tests.cluster.conftest import LINK_TIMEOUT_S, once_redis_answers
from tests.redis_server import RedisServer, free_port, start_redis_server

CHAT = ChatId("chat-f")


async def failing_over(operation: Callable[[], Awaitable[object]]) -> RedisFailingOver:
    """The failover reply behind the ``ClusterUnavailable`` that ``operation`` raises."""
    with trio.fail_after(LINK_TIMEOUT_S * 5), pytest.raises(ClusterUnavailable) as raised:
        await operation()
    cause = raised.value.__cause__
    assert isinstance(cause, RedisFailingOver), repr(cause)
    return cause


async def test_a_redis_demoted_to_a_replica_is_unavailable_until_promoted(
    redis_server: RedisServer, link: RedisLink, directory: Directory
) -> None:
    lease = await directory.claim(CHAT, "node-a")
    connects = link.statistics().connects
    primary = start_redis_server()
    try:
        redis_server.command("REPLICAOF", "127.0.0.1", primary.port)
        # A lease claim or renewal writes: READONLY, as a managed failover looks to a client.
        readonly = await failing_over(lambda: directory.renew(lease))
        assert readonly.reply.code == "READONLY"
        assert link.down
        # Known down: the next operation fails at once, with no connection attempted.
        with pytest.raises(ClusterUnavailable):
            await directory.holder(CHAT)
        assert link.statistics().fast_failures >= 1
    finally:
        redis_server.command("REPLICAOF", "NO", "ONE")
        primary.remove()
    # Promoted again: writes work, on a new connection (the one that heard READONLY is gone).
    await once_redis_answers(lambda: directory.claim(ChatId("another"), "node-a"))
    assert not link.down
    assert link.statistics().connects > connects


async def test_a_replica_cut_off_from_its_primary_is_unavailable(
    redis_server: RedisServer, link: RedisLink
) -> None:
    redis_server.command("CONFIG", "SET", "replica-serve-stale-data", "no")
    redis_server.command("REPLICAOF", "127.0.0.1", free_port())  # nobody there
    try:
        masterdown = await failing_over(lambda: link.execute("GET", "k"))
        assert masterdown.reply.code == "MASTERDOWN"
    finally:
        redis_server.command("REPLICAOF", "NO", "ONE")
        redis_server.command("CONFIG", "SET", "replica-serve-stale-data", "yes")
    assert await once_redis_answers(lambda: link.execute("GET", "k")) is None


async def test_a_redis_loading_its_snapshot_is_unavailable_until_loaded() -> None:
    server = start_redis_server()
    try:
        with trio.fail_after(30):
            async with open_cluster_link(server.url, timeout_s=LINK_TIMEOUT_S) as link:
                await link.execute_many([("SET", f"key{i}", i) for i in range(3000)])
                await link.execute("SAVE")
                server.stop()
                # About 3 s of LOADING: a millisecond per key, events processed every KiB.
                server.start("--key-load-delay", "1000",
                             "--loading-process-events-interval-bytes", "1024",
                             wait=False)  # fmt: skip
                loading = None
                while loading is None:
                    try:
                        await link.execute("GET", "key1")
                    except ClusterUnavailable as error:
                        if isinstance(error.__cause__, RedisFailingOver):
                            loading = error.__cause__
                        await trio.sleep(0.02)  # (refused while its port opens)
                assert loading.reply.code == "LOADING"
                assert await once_redis_answers(lambda: link.execute("GET", "key1")) == b"1"
    finally:
        server.remove()


@asynccontextmanager
async def fake_redis(answer: bytes | None) -> AsyncIterator[tuple[str, list[int]]]:
    """A listener on a free port that answers every read with ``answer`` (None: nothing,
    a hung server); yields its URL and a list that counts the connections it accepted."""
    accepted: list[int] = []

    async def serve(stream: trio.SocketStream) -> None:
        accepted.append(1)
        async with stream:
            while await stream.receive_some():
                if answer is not None:
                    await stream.send_all(answer)

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, serve, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        yield f"redis://127.0.0.1:{port}/0", accepted
        nursery.cancel_scope.cancel()


async def test_tryagain_is_unavailable_too() -> None:
    async with (
        fake_redis(b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n") as (url, _),
        open_cluster_link(url, timeout_s=LINK_TIMEOUT_S) as link,
    ):
        tryagain = await failing_over(lambda: link.execute("MGET", "a", "b"))
        assert tryagain.reply.code == "TRYAGAIN"


async def test_other_error_replies_are_answers_not_outages() -> None:
    async with (
        fake_redis(b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
        as (url, _),
        open_cluster_link(url, timeout_s=LINK_TIMEOUT_S) as link,
    ):  # fmt: skip
        with pytest.raises(RedisReplyError, match="WRONGTYPE"):
            await link.execute("INCR", "text")
        assert not link.down
        assert link.statistics().failures == 0


async def test_while_redis_is_known_down_one_connection_attempt_goes_at_a_time() -> None:
    async with (
        fake_redis(None) as (url, accepted),
        open_cluster_link(url, timeout_s=0.3) as link,
    ):
        with trio.fail_after(10):
            # Redis hangs: the first operations each time out (they set out while it was up).
            async with trio.open_nursery() as nursery:
                for _ in range(5):
                    nursery.start_soon(_fails, link)
            assert link.down
            before = len(accepted)
            # Known down: a burst of 50 fails at once, together making at most one connection
            # attempt (a probe, if the backoff has passed), not one each.
            async with trio.open_nursery() as nursery:
                for _ in range(50):
                    nursery.start_soon(_fails, link)
            assert len(accepted) - before <= 1
            assert link.statistics().fast_failures >= 49


async def _fails(link: RedisLink) -> None:
    with pytest.raises(ClusterUnavailable):
        await link.execute("PING")
