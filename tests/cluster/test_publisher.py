"""The node's publisher: concurrent PUBLISHes share pipelines, in order, and fail fast."""

from __future__ import annotations

import pytest
import trio

from chatactors.cluster.errors import ClusterUnavailable
from chatactors.cluster.redis import MAX_BATCH, Channels
from tests.cluster.conftest import LINK_TIMEOUT_S, once_redis_answers
from tests.harness.waiting import wait_until_async
from tests.redis_server import RedisServer


async def _listen(channels: Channels, channel: str) -> list[bytes]:
    received: list[bytes] = []
    await channels.listen(channel, received.append)
    return received


async def _wait_for_count(received: list[bytes], count: int) -> None:
    # Pub/Sub delivery has no event to await.
    await wait_until_async(lambda: len(received) >= count, 10, f"{count} messages received")


async def test_concurrent_publishes_share_pipelines_and_keep_each_callers_order(
    channels: Channels,
) -> None:
    received = await _listen(channels, "news")
    callers, per_caller = 20, 10

    async def publish_in_turn(caller: int) -> None:
        for n in range(per_caller):
            assert await channels.publish("news", f"{caller}:{n}".encode()) == 1

    async with trio.open_nursery() as nursery:
        for caller in range(callers):
            nursery.start_soon(publish_in_turn, caller)
    await _wait_for_count(received, callers * per_caller)

    publisher = channels.publisher
    assert publisher.statistics().commands == callers * per_caller
    # While one batch is out, the others queue: far fewer round trips than messages.
    assert publisher.statistics().batches < callers * per_caller / 4
    for caller in range(callers):
        mine = [m for m in received if m.startswith(f"{caller}:".encode())]
        assert mine == [f"{caller}:{n}".encode() for n in range(per_caller)]


async def test_a_group_is_published_in_order_and_split_past_the_batch_bound(
    channels: Channels,
) -> None:
    received = await _listen(channels, "group")
    count = MAX_BATCH * 2 + 3
    messages = [("group", str(n).encode()) for n in range(count)]
    assert await channels.publish_all(messages) == [1] * count
    await _wait_for_count(received, count)
    assert received == [data for _, data in messages]


async def test_quiet_and_counted_publishes_mix_in_order(channels: Channels) -> None:
    received = await _listen(channels, "mixed")

    async def alternate(caller: int) -> None:
        for n in range(10):
            await channels.publish_all_quietly([("mixed", f"{caller}:q{n}".encode())])
            assert await channels.publish("mixed", f"{caller}:c{n}".encode()) == 1

    async with trio.open_nursery() as nursery:
        for caller in range(5):
            nursery.start_soon(alternate, caller)
    await _wait_for_count(received, 100)
    for caller in range(5):
        mine = [m for m in received if m.startswith(f"{caller}:".encode())]
        assert mine == [f"{caller}:{kind}{n}".encode() for n in range(10) for kind in ("q", "c")]


async def test_nobody_listening_counts_zero(channels: Channels) -> None:
    assert await channels.publish_all([("nobody", b"1"), ("nobody", b"2")]) == [0, 0]


async def test_a_hung_redis_fails_every_queued_publish_within_the_bound(
    redis_server: RedisServer, channels: Channels
) -> None:
    # Its teardown (the ``channels`` fixture closing) must not hang either (it once did, in
    # about 2 runs of 5, with an earlier Redis client).
    redis_server.pause()
    failures: list[ClusterUnavailable] = []

    async def publish(n: int) -> None:
        with pytest.raises(ClusterUnavailable) as raised:
            await channels.publish("hung", str(n).encode())
        failures.append(raised.value)

    try:
        with trio.fail_after(LINK_TIMEOUT_S * 10):
            async with trio.open_nursery() as nursery:
                for n in range(5):
                    nursery.start_soon(publish, n)
    finally:
        redis_server.resume()
    assert len(failures) == 5
    # The publisher itself is not stuck: the next PUBLISH goes out once Redis answers again.
    assert await once_redis_answers(lambda: channels.publish("after", b"back")) == 0
