"""Presence that follows reality: sockets drive online/offline, typing expires (mock clock)."""

from __future__ import annotations

import trio
import trio.testing

from chatactors.domain.events import PresenceUpdated
from chatactors.domain.ids import UserId
from chatactors.domain.models import PresenceStatus
from chatactors.settings import Settings
from tests.actors.events import drain, summary
from tests.conftest import FakeWallClock, make_settings, running_registry

ALICE = UserId("alice")


async def status_of(chat: object, user: str) -> PresenceStatus:
    presence = {p.user_id: p for p in await chat.presence()}  # type: ignore[attr-defined]
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


async def test_sockets_make_a_user_online_until_the_last_one_closes(settings: Settings) -> None:
    wall = FakeWallClock()
    async with running_registry(settings, now=wall) as registry:
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


async def test_unsubscribing_twice_counts_once(registry: object) -> None:
    from chatactors.actors.registry import ChatRegistry

    assert isinstance(registry, ChatRegistry)
    chat = registry.chat((await registry.create_chat(["alice"])).id)
    first = await chat.subscribe(ALICE)
    second = await chat.subscribe(ALICE)
    await chat.unsubscribe(first)
    await chat.unsubscribe(first)
    assert await status_of(chat, "alice") is PresenceStatus.ONLINE
    await chat.unsubscribe(second)
    assert await status_of(chat, "alice") is PresenceStatus.OFFLINE


async def test_typing_user_who_closes_last_socket_goes_offline(settings: Settings) -> None:
    async with running_registry(settings) as registry:
        chat = registry.chat((await registry.create_chat(["alice"])).id)
        socket = await chat.subscribe(ALICE)
        await chat.set_presence(ALICE, PresenceStatus.TYPING)
        await chat.unsubscribe(socket)
        assert await status_of(chat, "alice") is PresenceStatus.OFFLINE
