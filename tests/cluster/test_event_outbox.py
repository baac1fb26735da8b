"""EventOutbox, an owner's events on their way to the chat's channel, against a real Redis: in
order even when a batch must go again, never once the lease is no longer valid, and the owner
gives the chat up rather than let too many wait."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import trio

from chatactors.cluster import codec
from chatactors.cluster.bus import chat_channel
from chatactors.cluster.directory import Holder
from chatactors.cluster.event_outbox import EventOutbox, OutboxCounters
from chatactors.cluster.presence_snapshot import PresenceSnapshot, snapshot_key
from chatactors.cluster.redis import Channels, Publisher, RedisLink
from chatactors.domain.events import PresenceUpdated
from chatactors.domain.ids import UserId
from chatactors.domain.models import Presence, PresenceStatus
from tests.cluster.test_bus import CHAT, WHEN, message
from tests.harness.waiting import wait_until_async

HOLDER = Holder("node-a", 5)


def outbox_on(
    publisher: Publisher,
    is_valid: Callable[[], bool] = lambda: True,
    *,
    limit: int = 64,
    on_overflow: Callable[[], None] = lambda: None,
    snapshot: PresenceSnapshot | None = None,
) -> tuple[EventOutbox, OutboxCounters]:
    counters = OutboxCounters()
    outbox = EventOutbox(
        CHAT, HOLDER, publisher, is_valid, 0.05, limit, on_overflow, counters, snapshot
    )
    return outbox, counters


@asynccontextmanager
async def listening(channels: Channels) -> AsyncIterator[list[codec.BusMessage]]:
    received: list[codec.BusMessage] = []
    await channels.listen(
        chat_channel(CHAT), lambda data: received.append(codec.decode_bus_message(data))
    )
    yield received


async def test_events_go_out_in_order_tagged_with_their_holder(channels: Channels) -> None:
    async with listening(channels) as received, trio.open_nursery() as nursery:
        outbox, counters = outbox_on(channels.publisher)
        nursery.start_soon(outbox.retry)
        for seq in range(1, 11):
            outbox.put(message(seq))
        await wait_until_async(lambda: len(received) == 10, 10, "10 messages received")
        assert [m.payload for m in received] == [message(seq) for seq in range(1, 11)]
        assert {m.holder for m in received} == {HOLDER}
        outbox.close()
        await outbox.drain()
        assert (counters.published, counters.withheld) == (10, 0)
        nursery.cancel_scope.cancel()


async def test_a_batch_the_publisher_refused_goes_again_before_anything_after_it(
    link: RedisLink, channels: Channels
) -> None:
    publisher = Publisher.open(link, queue_size=1)  # not running yet
    publisher.send_nowait([("PING",)])  # its queue is full: Redis far behind
    outbox, counters = outbox_on(publisher)
    async with listening(channels) as received, trio.open_nursery() as nursery:
        nursery.start_soon(outbox.retry)
        outbox.put(message(1))  # refused: waits for the retry
        outbox.put(message(2))
        await trio.sleep(0.2)  # several retries, each refused
        assert received == []
        nursery.start_soon(publisher.run)
        outbox.put(message(3))
        await wait_until_async(lambda: len(received) == 3, 10, "3 messages received")
        assert [m.payload for m in received] == [message(1), message(2), message(3)]
        assert (counters.published, counters.withheld) == (3, 0)
        nursery.cancel_scope.cancel()


async def test_nothing_goes_out_once_the_lease_is_no_longer_valid(channels: Channels) -> None:
    valid = [True]
    async with listening(channels) as received, trio.open_nursery() as nursery:
        outbox, counters = outbox_on(channels.publisher, lambda: valid[0])
        nursery.start_soon(outbox.retry)
        outbox.put(message(1))
        await wait_until_async(lambda: len(received) == 1, 10, "the message received")
        valid[0] = False
        for seq in range(2, 5):
            outbox.put(message(seq))
        outbox.close()
        outbox.put(message(5))  # after close: withheld too
        with trio.fail_after(10):
            await outbox.drain()
        await trio.sleep(0.2)
        assert [m.payload for m in received] == [message(1)]
        assert (counters.published, counters.withheld) == (1, 4)
        nursery.cancel_scope.cancel()


async def test_too_many_events_waiting_give_the_chat_up(link: RedisLink) -> None:
    overflowed: list[bool] = []
    publisher = Publisher.open(link)  # not running: Redis far behind
    outbox, _ = outbox_on(publisher, limit=3, on_overflow=lambda: overflowed.append(True))
    for seq in range(1, 5):  # one on its way, three waiting
        outbox.put(message(seq))
    assert overflowed == []
    outbox.put(message(5))
    assert overflowed == [True]


async def test_presence_is_recorded_in_the_pipeline_that_publishes_it(
    link: RedisLink, channels: Channels
) -> None:
    online = PresenceUpdated(Presence(UserId("ann"), PresenceStatus.ONLINE, WHEN))
    async with listening(channels) as received, trio.open_nursery() as nursery:
        outbox, _ = outbox_on(channels.publisher, snapshot=PresenceSnapshot(link))
        nursery.start_soon(outbox.retry)
        batches = channels.publisher.statistics().batches
        outbox.put(online)
        await wait_until_async(lambda: len(received) == 1, 10, "the message received")
        assert channels.publisher.statistics().batches == batches + 1  # one write for both
        assert await link.execute("HGET", snapshot_key(CHAT), "ann") == b"online"
        nursery.cancel_scope.cancel()
