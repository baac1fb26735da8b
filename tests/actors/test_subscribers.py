"""Fan-out: ordering, replay then live without a gap, slow subscribers dropped alone."""

from __future__ import annotations

import trio

from chatactors.actors.subscription import EndReason
from chatactors.domain.ids import UserId
from chatactors.domain.models import MessageType
from tests.actors.events import drain, seqs
from tests.conftest import make_settings, running_registry

ALICE = UserId("alice")
TEXT = MessageType.TEXT


async def test_slow_subscriber_is_dropped_others_keep_receiving() -> None:
    async with running_registry(make_settings(subscriber_queue_size=4)) as registry:
        chat = registry.chat((await registry.create_chat(["alice", "bob"])).id)
        stuck = await chat.subscribe()  # never reads
        reader = await chat.subscribe()
        received: list[int] = []
        for i in range(10):
            await chat.post(ALICE, TEXT, f"m{i}")
            received += seqs(drain(reader))
        assert received == list(range(1, 11))
        assert stuck.end_reason is EndReason.LAGGED
        assert registry.statistics().subscribers == 1
        # What the stuck one had queued is still readable, then the stream ends.
        assert seqs(drain(stuck)) == [1, 2, 3, 4]


async def test_each_event_is_published_once_and_shared() -> None:
    async with running_registry(make_settings()) as registry:
        chat = registry.chat((await registry.create_chat(["alice"])).id)
        subscribers = [await chat.subscribe() for _ in range(3)]
        await chat.post(ALICE, TEXT, "shared")
        envelopes = [s.receive_nowait() for s in subscribers]
        # One envelope for all: its frame slot is filled once, by the first socket to send it.
        assert envelopes[0] is envelopes[1] is envelopes[2]
        assert envelopes[0].frame is None


async def test_replay_then_live_has_no_gap_and_no_duplicate() -> None:
    async with running_registry(make_settings()) as registry:
        chat = registry.chat((await registry.create_chat(["alice"])).id)
        for i in range(5):
            await chat.post(ALICE, TEXT, f"m{i}")
        subscription = await chat.subscribe(after_seq=2)
        assert seqs(subscription.replay) == [3, 4, 5]
        assert subscription.latest_seq == 5
        await chat.post(ALICE, TEXT, "live")
        assert seqs(drain(subscription)) == [6]


async def test_replay_with_concurrent_posters_has_no_gap() -> None:
    async with running_registry(make_settings()) as registry:
        chat = registry.chat((await registry.create_chat(["alice", "bob"])).id)
        seen: list[int] = []

        async def poster(user: str) -> None:
            for i in range(50):
                await chat.post(UserId(user), TEXT, f"{user}{i}")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(poster, "alice")
            nursery.start_soon(poster, "bob")
            # Let the posters get going, so the subscription lands in the middle of them.
            for _ in range(20):
                await trio.lowlevel.checkpoint()
            subscription = await chat.subscribe(after_seq=0)
            seen += seqs(subscription.replay)
        seen += seqs(drain(subscription))
        assert seen == list(range(1, 101))


async def test_too_long_history_asks_for_a_resync() -> None:
    async with running_registry(make_settings(max_replay=3)) as registry:
        chat = registry.chat((await registry.create_chat(["alice"])).id)
        for i in range(5):
            await chat.post(ALICE, TEXT, f"m{i}")
        subscription = await chat.subscribe(after_seq=1)
        assert subscription.resync_required
        assert subscription.replay == ()
        await chat.post(ALICE, TEXT, "live")
        assert seqs(drain(subscription)) == [6]


async def test_shutdown_ends_subscriptions_with_shutdown_reason() -> None:
    async with running_registry(make_settings()) as registry:
        chat = registry.chat((await registry.create_chat(["alice"])).id)
        subscription = await chat.subscribe()
    assert subscription.end_reason is EndReason.SHUTDOWN


async def test_dropping_a_lagging_subscriber_tells_its_stuck_sender_at_once() -> None:
    async with running_registry(make_settings(subscriber_queue_size=2)) as registry:
        chat = registry.chat((await registry.create_chat(["alice", "bob"])).id)
        lagging = await chat.subscribe()
        calm = await chat.subscribe()
        stuck_in_send = trio.Event()
        calm_ended: list[EndReason] = []
        with trio.fail_after(5), trio.CancelScope() as scope:  # fails, not hangs, if never freed
            lagging.call_when_ended(lambda reason: scope.cancel())
            calm.call_when_ended(calm_ended.append)  # a reader that keeps up: never ended
            async with trio.open_nursery() as nursery:

                async def post_until_dropped() -> None:
                    await stuck_in_send.wait()
                    for i in range(5):
                        await chat.post(ALICE, TEXT, f"m{i}")
                        drain(calm)

                nursery.start_soon(post_until_dropped)
                stuck_in_send.set()
                await trio.sleep_forever()  # a send to a peer that reads nothing
        assert scope.cancelled_caught
        assert lagging.end_reason is EndReason.LAGGED
        assert calm.end_reason is None
        assert calm_ended == []
