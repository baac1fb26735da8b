"""Every queue in front of Redis is bounded, and what is full answers at once; connections
keep TCP keepalive on; a server that answers garbage is unavailable, never a crash.

Real redis-server where it can show it; for a peer that never reads (so that the Pub/Sub
connection's outbox fills) and for garbage, small listeners on real sockets.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import pytest
import trio

from chatactors.cluster.errors import ClusterUnavailable
from chatactors.cluster.node import open_cluster_link
from chatactors.cluster.redis import Channels, Publisher, RedisLink, open_channels
from tests.cluster.conftest import LINK_TIMEOUT_S, once_redis_answers
from tests.harness.waiting import wait_until_async
from tests.redis_server import RedisServer


@asynccontextmanager
async def listener(answer: bytes | None, *, reads: bool = True) -> AsyncIterator[str]:
    """A peer on a free port: answers each read with ``answer`` (None: nothing); with
    ``reads=False`` it answers a connection's first two reads (its set-up and its PING) and
    never reads again (its receive window fills). Yields its URL."""

    async def serve(stream: trio.SocketStream) -> None:
        async with stream:
            if not reads:
                for first in (b"+OK\r\n", b"+PONG\r\n"):
                    await stream.receive_some()
                    await stream.send_all(first)
                await trio.sleep_forever()
            while await stream.receive_some():
                if answer is not None:
                    await stream.send_all(answer)

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, serve, 0, host="127.0.0.1"))
        yield f"redis://127.0.0.1:{listeners[0].socket.getsockname()[1]}/0"
        nursery.cancel_scope.cancel()


async def test_a_full_publish_queue_refuses_at_once_and_counts(
    redis_server: RedisServer, link: RedisLink
) -> None:
    publisher = Publisher.open(link, queue_size=2)
    refused: list[ClusterUnavailable] = []

    async def publish() -> None:
        try:
            await publisher.publish("hung", b"x")
        except ClusterUnavailable as error:
            refused.append(error)

    redis_server.pause()
    try:
        with trio.fail_after(LINK_TIMEOUT_S * 10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(publisher.run)
                # One batch goes out (and hangs), two wait in the queue, the rest are refused.
                nursery.start_soon(publish)
                await trio.testing.wait_all_tasks_blocked()
                for _ in range(5):
                    nursery.start_soon(publish)
                await trio.testing.wait_all_tasks_blocked()
                assert publisher.statistics().queue_full == 3
                assert len(refused) == 3
                nursery.cancel_scope.cancel()
    finally:
        redis_server.resume()


async def test_a_pub_sub_connection_redis_stops_reading_is_given_up() -> None:
    long_name = "x" * 256 * 1024  # each SUBSCRIBE a quarter MiB: the socket's buffers fill
    async with (
        listener(None, reads=False) as url,
        # Long enough that a busy machine does not hit the idle PING's bound first.
        open_cluster_link(url, timeout_s=2) as link,
    ):
        channels = Channels(link, Publisher.open(link), outbox_size=2)
        failures: list[ClusterUnavailable] = []

        async def listen(n: int) -> None:
            try:
                await channels.listen(f"{long_name}{n}", lambda data: None)
            except ClusterUnavailable as error:
                failures.append(error)

        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(channels.run)
                await wait_until_async(lambda: channels.listening, 30, "Pub/Sub connected")
                async with trio.open_nursery() as listens:
                    for n in range(200):
                        listens.start_soon(listen, n)
                assert channels.statistics().outbox_full >= 1
                assert len(failures) == 200  # nothing was ever confirmed
                nursery.cancel_scope.cancel()


async def test_garbage_from_the_server_is_unavailable_not_a_crash() -> None:
    async with (
        listener(b"this is not RESP\r\n") as url,
        open_cluster_link(url, timeout_s=LINK_TIMEOUT_S) as link,
    ):
        with pytest.raises(ClusterUnavailable):
            await link.execute("PING")
        assert link.down


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
async def test_connections_have_tcp_keepalive_on(redis_server: RedisServer) -> None:
    async with open_cluster_link(redis_server.url, timeout_s=LINK_TIMEOUT_S) as link:
        await once_redis_answers(lambda: link.execute("PING"))
        async with open_channels(link) as channels:
            with trio.fail_after(10):
                await wait_until_async(lambda: channels.listening, 10, "Pub/Sub connected")
                ss = ["ss", "-tno", "state", "established", f"( dport = :{redis_server.port} )"]
                done = await trio.run_process(ss, capture_stdout=True)
    shown = done.stdout.decode()
    connections = [line for line in shown.splitlines() if f":{redis_server.port}" in line]
    assert len(connections) >= 2  # a pooled one and the Pub/Sub one
    assert all("timer:(keepalive," in line for line in connections), shown
