"""Presence that follows reality: sockets drive online/offline after a grace, typing expires
(mock clock)."""

from __future__ import annotations

import trio
import trio.testing

from chatactors.actors.handle import ChatHandle
from chatactors.actors.subscription import Subscription
from chatactors.domain.events import PresenceUpdated
from chatactors.domain.ids import UserId
from chatactors.domain.models import PresenceStatus
from chatactors.storage.memory import MemoryStore
from tests.actors.events import drain, summary
from tests.conftest import FakeWallClock, make_settings, running_registry

ALICE = UserId("alice")


async def status_of(chat: ChatHandle, user: str) -> PresenceStatus:
    presence = {p.user_id: p for p in await chat.presence()}
    return presence[UserId(user)].status


async def test_typing_expires_back_to_online_after_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with running_registry(make_settings(typing_timeout_s=10)) as registry:
        chat = registry.chat((await registry.create_chat(["alice", "bob"])).id)
        watcher = await chat.subscribe()
        await chat.set_presence(ALICE, PresenceStatus.TYPING)
        await trio.sleep(9.9)
        assert await status_of(chat, "alice") is PresenceStatus.TYPING
        await trio.sleep(0.2)
        assert await status_of(chat, "alice") is PresenceStatus.ONLINE
        statuses = [summary(e)[2] for e in drain(watcher)]
        assert statuses == ["typing", "online"]


async def test_refreshed_typing_does_not_expire(autojump_clock: trio.testing.MockClock) -> None:
    async with running_registry(make_settings(typing_timeout_s=10)) as registry:
        chat = registry.chat((await registry.create_chat(["alice"])).id)
        for _ in range(5):
            await chat.set_presence(ALICE, PresenceStatus.TYPING)
            await trio.sleep(6)
        assert await status_of(chat, "alice") is PresenceStatus.TYPING
        await trio.sleep(5)
        assert await status_of(chat, "alice") is PresenceStatus.ONLINE


async def test_with_no_grace_sockets_make_a_user_online_until_the_last_one_closes() -> None:
    wall = FakeWallClock()
    async with running_registry(make_settings(presence_grace_s=0), now=wall) as registry:
        chat = registry.chat((await registry.create_chat(["alice", "bob"])).id)
        watcher = await chat.subscribe()
        first = await chat.subscribe(ALICE)
        second = await chat.subscribe(ALICE)
        assert await status_of(chat, "alice") is PresenceStatus.ONLINE
        await chat.unsubscribe(first)
        assert await status_of(chat, "alice") is PresenceStatus.ONLINE
        wall.advance(30)
        await chat.unsubscribe(second)
        presence = {p.user_id: p for p in await chat.presence()}[ALICE]
        assert presence.status is PresenceStatus.OFFLINE
        assert presence.last_seen == wall()
        events = [e.presence for e in drain(watcher) if isinstance(e, PresenceUpdated)]
        assert [p.status for p in events] == [PresenceStatus.ONLINE, PresenceStatus.OFFLINE]
        assert events[1].last_seen == wall()


async def test_unsubscribing_twice_counts_once(autojump_clock: trio.testing.MockClock) -> None:
    async with running_registry(make_settings(presence_grace_s=GRACE)) as registry:
        chat = registry.chat((await registry.create_chat(["alice"])).id)
        first = await chat.subscribe(ALICE)
        second = await chat.subscribe(ALICE)
        await chat.unsubscribe(first)
        await chat.unsubscribe(first)
        await trio.sleep(GRACE * 2)  # had it counted twice, the grace would have run out
        assert await status_of(chat, "alice") is PresenceStatus.ONLINE
        await chat.unsubscribe(second)
        await trio.sleep(GRACE)
        assert await status_of(chat, "alice") is PresenceStatus.OFFLINE


async def test_with_no_grace_a_typing_user_who_closes_last_socket_goes_offline() -> None:
    async with running_registry(make_settings(presence_grace_s=0)) as registry:
        chat = registry.chat((await registry.create_chat(["alice"])).id)
        socket = await chat.subscribe(ALICE)
        await chat.set_presence(ALICE, PresenceStatus.TYPING)
        await chat.unsubscribe(socket)
        assert await status_of(chat, "alice") is PresenceStatus.OFFLINE


GRACE = 5.0


def presence_events(watcher: Subscription) -> list[tuple[str, str]]:
    """(user, status) of the presence events the watcher got so far."""
    return [
        (e.presence.user_id, e.presence.status.value)
        for e in drain(watcher)
        if isinstance(e, PresenceUpdated)
    ]


async def test_offline_comes_only_after_the_grace_last_seen_when_the_socket_closed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    wall, store = FakeWallClock(), MemoryStore()
    async with running_registry(make_settings(presence_grace_s=GRACE), store, now=wall) as registry:
        chat_id = (await registry.create_chat(["alice", "bob"])).id
        chat = registry.chat(chat_id)
        watcher = await chat.subscribe()
        socket = await chat.subscribe(ALICE)
        wall.advance(30)
        closed_at = wall()
        await chat.unsubscribe(socket)
        wall.advance(GRACE)  # the wall moves on meanwhile: last-seen stays the closing time
        await trio.sleep(GRACE - 0.1)
        assert await status_of(chat, "alice") is PresenceStatus.ONLINE
        assert presence_events(watcher) == [("alice", "online")]
        await trio.sleep(0.2)
        presence = {p.user_id: p for p in await chat.presence()}[ALICE]
        assert (presence.status, presence.last_seen) == (PresenceStatus.OFFLINE, closed_at)
        [offline] = [e for e in drain(watcher) if isinstance(e, PresenceUpdated)]
        assert offline.presence == presence
    loaded = await store.load_chat(chat_id, window=1, idempotency_window=1)
    assert loaded is not None
    assert loaded.last_seen[ALICE] == closed_at


async def test_a_socket_back_within_the_grace_publishes_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with running_registry(make_settings(presence_grace_s=GRACE)) as registry:
        chat = registry.chat((await registry.create_chat(["alice", "bob"])).id)
        watcher = await chat.subscribe()
        await chat.unsubscribe(await chat.subscribe(ALICE))  # a page reload: closed...
        await trio.sleep(GRACE - 0.5)
        await chat.subscribe(ALICE)  # ...and open again
        await trio.sleep(GRACE * 10)
        assert await status_of(chat, "alice") is PresenceStatus.ONLINE
        assert presence_events(watcher) == [("alice", "online")]


async def test_an_explicit_offline_within_the_grace_is_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    wall = FakeWallClock()
    async with running_registry(make_settings(presence_grace_s=GRACE), now=wall) as registry:
        chat = registry.chat((await registry.create_chat(["alice", "bob"])).id)
        watcher = await chat.subscribe()
        await chat.unsubscribe(await chat.subscribe(ALICE))
        await trio.sleep(1)
        wall.advance(1)
        offline = await chat.set_presence(ALICE, PresenceStatus.OFFLINE)
        assert (offline.status, offline.last_seen) == (PresenceStatus.OFFLINE, wall())
        assert presence_events(watcher) == [("alice", "online"), ("alice", "offline")]
        await trio.sleep(GRACE * 10)  # and the grace that ran is over: nothing more
        assert presence_events(watcher) == []


async def test_a_typing_user_who_closes_last_socket_is_online_then_offline_after_the_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with running_registry(make_settings(presence_grace_s=GRACE)) as registry:
        chat = registry.chat((await registry.create_chat(["alice", "bob"])).id)
        watcher = await chat.subscribe()
        socket = await chat.subscribe(ALICE)
        await chat.set_presence(ALICE, PresenceStatus.TYPING)
        await chat.unsubscribe(socket)
        assert await status_of(chat, "alice") is PresenceStatus.ONLINE
        await trio.sleep(GRACE)
        assert await status_of(chat, "alice") is PresenceStatus.OFFLINE
        assert presence_events(watcher) == [
            ("alice", "online"), ("alice", "typing"), ("alice", "online"), ("alice", "offline")
        ]  # fmt: skip


async def test_a_chat_stays_active_until_the_grace_ran_out(
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = make_settings(presence_grace_s=GRACE, idle_timeout_s=1)
    async with running_registry(settings) as registry:
        chat_id = (await registry.create_chat(["alice"])).id
        chat = registry.chat(chat_id)
        await chat.unsubscribe(await chat.subscribe(ALICE))
        await trio.sleep(GRACE - 0.5)  # far past the idle timeout
        assert registry.statistics().active_actors == 1
        await trio.sleep(0.5 + 1)  # the grace, then the idle timeout
        assert registry.statistics().active_actors == 0


async def test_a_grace_running_at_shutdown_ends_offline_with_last_seen_kept(
    autojump_clock: trio.testing.MockClock,
) -> None:
    wall, store = FakeWallClock(), MemoryStore()
    settings = make_settings(presence_grace_s=GRACE)
    async with running_registry(settings, store, now=wall) as registry:
        chat_id = (await registry.create_chat(["alice", "bob"])).id
        chat = registry.chat(chat_id)
        wall.advance(30)
        closed_at = wall()
        await chat.unsubscribe(await chat.subscribe(ALICE))
        wall.advance(1)
    async with running_registry(settings, store, now=wall) as registry:
        presence = {p.user_id: p for p in await registry.chat(chat_id).presence()}[ALICE]
        assert (presence.status, presence.last_seen) == (PresenceStatus.OFFLINE, closed_at)
