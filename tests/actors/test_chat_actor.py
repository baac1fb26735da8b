"""Each command of a chat actor: the happy path, its errors, and state unchanged after an error."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from chatactors.actors.registry import ChatRegistry
from chatactors.domain.errors import ChatNotFound, InvalidInput, NotAParticipant
from chatactors.domain.events import ChatRead
from chatactors.domain.ids import BOT_USER, UserId
from chatactors.domain.models import MessageType, PresenceStatus
from chatactors.settings import Settings
from chatactors.storage.store import MessagePage
from tests.actors.events import drain, seqs, summary
from tests.conftest import FakeWallClock, make_settings, running_registry

ALICE, BOB = UserId("alice"), UserId("bob")
TEXT = MessageType.TEXT


async def test_post_assigns_increasing_seq_and_keeps_order(
    registry: ChatRegistry, new_chat: Callable[..., Any]
) -> None:
    chat = registry.chat(await new_chat())
    posted = [await chat.post(ALICE, TEXT, f"m{i}") for i in range(5)]
    assert [m.seq for m in posted] == [1, 2, 3, 4, 5]
    listed = await chat.messages(MessagePage(limit=100))
    assert [m.content for m in listed] == ["m0", "m1", "m2", "m3", "m4"]
    assert all(a.timestamp <= b.timestamp for a, b in itertools.pairwise(listed))


async def test_chat_participants_are_deduplicated_with_bot_once(registry: ChatRegistry) -> None:
    chat = await registry.create_chat(["alice", "bob", "alice", "bot_user"])
    assert chat.participants == ("alice", "bob", "bot_user")


@pytest.mark.parametrize(
    "participants",
    [[], [""], ["  "], ["a\x00b"], ["x" * 129]],
)
async def test_create_chat_rejects_bad_participants(
    registry: ChatRegistry, participants: list[str]
) -> None:
    with pytest.raises(InvalidInput):
        await registry.create_chat(participants)
    assert await registry.list_chats() == []


async def test_non_participant_cannot_post_and_nothing_changes(
    registry: ChatRegistry, new_chat: Callable[..., Any]
) -> None:
    chat = registry.chat(await new_chat())
    await chat.post(ALICE, TEXT, "hello")
    with pytest.raises(NotAParticipant):
        await chat.post(UserId("mallory"), TEXT, "intrusion")
    with pytest.raises(NotAParticipant):
        await chat.set_presence(UserId("mallory"), PresenceStatus.ONLINE)
    with pytest.raises(NotAParticipant):
        await chat.mark_read(UserId("mallory"))
    assert [m.content for m in await chat.messages(MessagePage(limit=10))] == ["hello"]
    # The actor is alive and serving after the errors.
    assert (await chat.post(BOB, TEXT, "still here")).seq == 2


async def test_empty_content_is_rejected(registry: ChatRegistry, new_chat: Any) -> None:
    chat = registry.chat(await new_chat())
    with pytest.raises(InvalidInput):
        await chat.post(ALICE, TEXT, "")
    assert (await chat.info()).last_seq == 0


async def test_unknown_chat_is_not_found(registry: ChatRegistry) -> None:
    with pytest.raises(ChatNotFound):
        await registry.chat("no-such-chat").messages(MessagePage(limit=10))
    assert registry.statistics().active_actors == 0


async def test_repeated_client_message_id_returns_original_and_broadcasts_once(
    registry: ChatRegistry, new_chat: Callable[..., Any]
) -> None:
    chat = registry.chat(await new_chat())
    watcher = await chat.subscribe()
    first = await chat.post(ALICE, TEXT, "once", client_message_id="c-1")
    again = await chat.post(ALICE, TEXT, "once", client_message_id="c-1")
    other_user = await chat.post(BOB, TEXT, "mine", client_message_id="c-1")
    assert again == first
    assert other_user.id != first.id  # the key is (chat, user, client_message_id)
    assert seqs(drain(watcher)) == [1, 2]


async def test_pages_before_and_after_seq(registry: ChatRegistry, new_chat: Any) -> None:
    chat = registry.chat(await new_chat())
    for i in range(1, 11):
        await chat.post(ALICE, TEXT, str(i))

    async def seqs(**page: Any) -> list[int]:
        return [m.seq for m in await chat.messages(MessagePage(**page))]

    assert await seqs(limit=3) == [8, 9, 10]
    assert await seqs(limit=3, before_seq=5) == [2, 3, 4]
    assert await seqs(limit=3, after_seq=5) == [6, 7, 8]
    assert await seqs(limit=100, after_seq=2, before_seq=5) == [3, 4]
    assert await seqs(limit=5, before_seq=1) == []


async def test_pages_beyond_the_memory_window_come_from_the_store(new_chat: Any) -> None:
    async with running_registry(make_settings(history_window=3)) as registry:
        chat = registry.chat((await registry.create_chat(["alice"])).id)
        for i in range(1, 9):
            await chat.post(ALICE, TEXT, str(i))
        assert [m.seq for m in await chat.messages(MessagePage(limit=100))] == list(range(1, 9))
        assert [m.seq for m in await chat.messages(MessagePage(limit=2, before_seq=4))] == [2, 3]


async def test_mark_read_points_at_newest_and_broadcasts_only_on_change(
    registry: ChatRegistry, new_chat: Callable[..., Any]
) -> None:
    chat = registry.chat(await new_chat())
    empty = await chat.mark_read(BOB)
    assert (empty.message_id, empty.seq) == (None, 0)
    watcher = await chat.subscribe()
    await chat.post(ALICE, TEXT, "a")
    newest = await chat.post(ALICE, TEXT, "b")
    mark = await chat.mark_read(BOB)
    assert (mark.message_id, mark.seq) == (newest.id, 2)
    assert await chat.mark_read(BOB) == mark  # nothing new: no second event
    reads = [e for e in drain(watcher) if isinstance(e, ChatRead)]
    assert reads == [ChatRead(chat.chat_id, BOB, newest.id, 2)]
    marks = {m.user_id: m.seq for m in await chat.read_marks()}
    assert marks == {ALICE: 0, BOB: 2, BOT_USER: 0}


async def test_everyone_starts_offline_with_last_seen_at_creation(
    registry: ChatRegistry,
) -> None:
    created = await registry.create_chat(["alice", "bob"])
    presence = await registry.chat(created.id).presence()
    assert [(p.user_id, p.status) for p in presence] == [
        ("alice", PresenceStatus.OFFLINE),
        ("bob", PresenceStatus.OFFLINE),
        ("bot_user", PresenceStatus.OFFLINE),
    ]
    assert {p.last_seen for p in presence} == {created.created_at}


async def test_presence_is_broadcast_only_when_it_changes(
    registry: ChatRegistry, new_chat: Callable[..., Any]
) -> None:
    chat = registry.chat(await new_chat())
    watcher = await chat.subscribe()
    for _ in range(150):
        await chat.set_presence(ALICE, PresenceStatus.TYPING)
    assert [summary(e) for e in drain(watcher)] == [("presence", "alice", "typing")]


async def test_offline_moves_last_seen_and_online_does_not(settings: Settings) -> None:
    wall = FakeWallClock()
    async with running_registry(settings, now=wall) as registry:
        chat = registry.chat((await registry.create_chat(["alice"])).id)
        created = wall()
        wall.advance(60)
        online = await chat.set_presence(ALICE, PresenceStatus.ONLINE)
        assert online.last_seen == created
        wall.advance(60)
        offline = await chat.set_presence(ALICE, PresenceStatus.OFFLINE)
        assert offline.last_seen == created + timedelta(seconds=120)
