"""forward_events: reference frames one per event; v1 arrays coalesced, with the write delay."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import trio
import trio.testing

from chatactors.actors.subscription import EndReason, Envelope, Subscription
from chatactors.actors.subscription_id import SubscriptionId
from chatactors.domain.events import MessageReceived
from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import Message, MessageType
from chatactors.web.keepalive import Keepalive
from chatactors.web.socket_frames import MAX_EVENTS_PER_FRAME, forward_events
from chatactors.web.wire_out import event_frame


async def _no_ping() -> None:
    raise AssertionError("pings are off")


def open_subscription() -> Subscription:
    return Subscription.open(
        id=SubscriptionId.local(1),
        user_id=None,
        replay=(),
        resync_required=False,
        latest_seq=0,
        queue_size=1024,
    )


def message(n: int) -> MessageReceived:
    moment = datetime(2026, 11, 23, tzinfo=UTC)
    return MessageReceived(
        Message(MessageId(f"m{n}"), ChatId("c"), n, UserId("a"), MessageType.TEXT, "x", moment)
    )


def event(n: int) -> Envelope:
    return Envelope(message(n))


class Socket:
    """Collects frames with the (mock) time each was sent."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, str]] = []

    async def send(self, frame: str) -> None:
        self.frames.append((trio.current_time(), frame))

    def seqs(self) -> list[list[int]]:
        return [[e["data"]["seq"] for e in orjson.loads(frame)] for _, frame in self.frames]


async def forward(
    subscription: Subscription, socket: Socket, *, v1: bool, write_delay_s: float = 0.0
) -> EndReason:
    keepalive = Keepalive(_no_ping, 0)
    return await forward_events(
        subscription, socket.send, keepalive, v1=v1, write_delay_s=write_delay_s
    )


async def test_reference_frames_carry_one_event_each(
    autojump_clock: trio.testing.MockClock,
) -> None:
    subscription, socket = open_subscription(), Socket()
    for n in (1, 2, 3):
        subscription.offer(event(n))
    subscription.end(EndReason.SHUTDOWN)
    assert await forward(subscription, socket, v1=False) is EndReason.SHUTDOWN
    assert [frame for _, frame in socket.frames] == [event_frame(message(n)) for n in (1, 2, 3)]


async def test_v1_shares_a_frame_among_queued_events(
    autojump_clock: trio.testing.MockClock,
) -> None:
    subscription, socket = open_subscription(), Socket()
    for n in range(1, MAX_EVENTS_PER_FRAME + 3):
        subscription.offer(event(n))
    subscription.end(EndReason.UNSUBSCRIBED)
    assert await forward(subscription, socket, v1=True) is EndReason.UNSUBSCRIBED
    sizes = [len(seqs) for seqs in socket.seqs()]
    assert sizes == [MAX_EVENTS_PER_FRAME, 2]
    assert [seq for frame in socket.seqs() for seq in frame] == list(
        range(1, MAX_EVENTS_PER_FRAME + 3)
    )


async def test_write_delay_spaces_frames_and_batches_what_arrives_between(
    autojump_clock: trio.testing.MockClock,
) -> None:
    subscription, socket = open_subscription(), Socket()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: forward(subscription, socket, v1=True,
                                                  write_delay_s=1.0))  # fmt: skip
        start = trio.current_time()
        subscription.offer(event(1))  # after a quiet spell: at once
        await trio.sleep(0.1)
        for n in (2, 3, 4):  # a burst within the delay: one frame, 1 s after the first
            subscription.offer(event(n))
            await trio.sleep(0.1)
        await trio.sleep(5)
        subscription.offer(event(5))  # quiet again: at once
        await trio.sleep(0.1)
        subscription.end(EndReason.UNSUBSCRIBED)
    assert socket.seqs() == [[1], [2, 3, 4], [5]]
    sent_at = [t - start for t, _ in socket.frames]
    assert sent_at[0] == 0
    assert sent_at[1] == 1.0
    assert 5.0 < sent_at[2] < 5.5


async def test_without_write_delay_events_go_out_as_they_come(
    autojump_clock: trio.testing.MockClock,
) -> None:
    subscription, socket = open_subscription(), Socket()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: forward(subscription, socket, v1=True))
        for n in (1, 2, 3):
            subscription.offer(event(n))
            await trio.sleep(0.01)
        subscription.end(EndReason.UNSUBSCRIBED)
    assert socket.seqs() == [[1], [2], [3]]
