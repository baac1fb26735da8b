"""The registry: virtual actors (idle stop, reactivation), one-for-one supervision, overload."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from chatactors.domain.errors import ChatUnavailable, Overloaded, ServerShuttingDown
from chatactors.domain.ids import ChatId, UserId
from chatactors.domain.models import Message, MessageType
from chatactors.storage.memory import MemoryStore
from chatactors.storage.store import MessagePage
from tests.conftest import make_settings, running_registry

ALICE = UserId("alice")
TEXT = MessageType.TEXT


class FaultyStore(MemoryStore):
    """A store whose writes for one chat raise, as a bug or a broken disk would."""

    def __init__(self) -> None:
        super().__init__()
        self.broken: set[ChatId] = set()

    async def append_message(self, message: Message, *, owner: int) -> None:
        if message.chat_id in self.broken:
            raise RuntimeError("injected fault")
        await super().append_message(message, owner=owner)


class StallingStore(MemoryStore):
    """A store whose message writes wait until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = trio.Event()

    async def append_message(self, message: Message, *, owner: int) -> None:
        await self.release.wait()
        await super().append_message(message, owner=owner)


async def test_idle_actor_stops_and_comes_back_with_its_state(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with running_registry(make_settings(idle_timeout_s=600)) as registry:
        chat = registry.chat((await registry.create_chat(["alice"])).id)
        await chat.post(ALICE, TEXT, "before")
        assert registry.statistics().active_actors == 1
        await trio.sleep(599)
        assert registry.statistics().active_actors == 1
        await trio.sleep(2)
        stats = registry.statistics()
        assert (stats.active_actors, stats.deactivations) == (0, 1)
        after = await chat.post(ALICE, TEXT, "after")
        assert after.seq == 2
        assert registry.statistics().activations == 2


async def test_subscribed_chat_never_goes_idle(autojump_clock: trio.testing.MockClock) -> None:
    async with running_registry(make_settings(idle_timeout_s=10)) as registry:
        chat = registry.chat((await registry.create_chat(["alice"])).id)
        subscription = await chat.subscribe()
        await trio.sleep(100)
        assert registry.statistics().active_actors == 1
        await chat.unsubscribe(subscription)
        await trio.sleep(11)
        assert registry.statistics().active_actors == 0


async def test_commands_at_the_moment_of_deactivation_are_not_lost(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with running_registry(make_settings(idle_timeout_s=10)) as registry:
        chat = registry.chat((await registry.create_chat(["alice"])).id)
        await chat.post(ALICE, TEXT, "first")
        deadline = trio.current_time() + 10
        results: list[Message] = []

        async def post_at_deadline(i: int) -> None:
            await trio.sleep_until(deadline)
            results.append(await chat.post(ALICE, TEXT, f"m{i}"))

        async with trio.open_nursery() as nursery:
            for i in range(20):
                nursery.start_soon(post_at_deadline, i)
        assert sorted(m.seq for m in results) == list(range(2, 22))
        stored = await chat.messages(MessagePage(limit=100))
        assert [m.seq for m in stored] == list(range(1, 22))


async def test_crash_fails_pending_requests_and_spares_other_chats(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = FaultyStore()
    async with running_registry(make_settings(crash_backoff_s=5), store) as registry:
        sick = registry.chat((await registry.create_chat(["alice"])).id)
        healthy = registry.chat((await registry.create_chat(["alice"])).id)
        await sick.post(ALICE, TEXT, "ok before")
        watcher = await sick.subscribe()
        store.broken.add(sick.chat_id)
        with pytest.raises(ChatUnavailable):
            await sick.post(ALICE, TEXT, "boom")
        await trio.testing.wait_all_tasks_blocked()
        assert registry.statistics().crashes == 1
        assert watcher.end_reason is not None
        # Other chats never notice.
        assert (await healthy.post(ALICE, TEXT, "fine")).seq == 1
        # Backoff: refused for a while, then restarted from the store.
        store.broken.clear()
        with pytest.raises(ChatUnavailable):
            await sick.post(ALICE, TEXT, "too soon")
        await trio.sleep(5)
        again = await sick.post(ALICE, TEXT, "after restart")
        assert again.seq == 2


async def test_full_inbox_makes_callers_wait_then_overloaded(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = StallingStore()
    settings = make_settings(inbox_size=2, inbox_wait_s=1.5)
    async with running_registry(settings, store) as registry:
        chat = registry.chat((await registry.create_chat(["alice"])).id)
        outcomes: list[Any] = []

        async def post(i: int) -> None:
            try:
                outcomes.append(await chat.post(ALICE, TEXT, f"m{i}"))
            except Overloaded as error:
                outcomes.append(error)

        async with trio.open_nursery() as nursery:
            for i in range(6):
                nursery.start_soon(post, i)
            await trio.sleep(1)
            assert outcomes == []  # callers wait briefly ...
            await trio.sleep(1)
            # ... then the ones that found no room give up: 1 being handled + 2 queued remain.
            assert sum(isinstance(o, Overloaded) for o in outcomes) == 3
            store.release.set()
        assert sorted(o.seq for o in outcomes if isinstance(o, Message)) == [1, 2, 3]


async def test_cancelled_caller_does_not_stall_the_actor(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = StallingStore()
    async with running_registry(make_settings(), store) as registry:
        chat = registry.chat((await registry.create_chat(["alice"])).id)
        with trio.move_on_after(1):
            await chat.post(ALICE, TEXT, "caller gives up")
        store.release.set()
        # The actor answered into a Reply nobody waits for, without blocking, and goes on.
        assert (await chat.post(ALICE, TEXT, "next")).seq == 2


async def test_shutdown_answers_what_was_queued(autojump_clock: trio.testing.MockClock) -> None:
    async with running_registry(make_settings()) as registry:
        chat = registry.chat((await registry.create_chat(["alice"])).id)
        await chat.post(ALICE, TEXT, "one")
        registry.begin_shutdown()
        # Its own kind of unavailable: a socket refused now closes with 1001, not 1013.
        with pytest.raises(ServerShuttingDown):
            await registry.chat("another").messages(MessagePage(limit=1))
        with pytest.raises(ServerShuttingDown):
            await chat.subscribe()  # its actor is stopping
