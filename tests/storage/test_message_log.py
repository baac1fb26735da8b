"""The chat's log in the store, on every engine: changed messages, and reading the log by position.

Policy: as ``test_store.py`` (public ``ChatStore`` methods only, the real clock, bounded). A
chat's log numbers messages and changes alike; the tests build it as an actor would: each entry
at the next position, each change with the message's whole new state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import pytest
import trio

from chatactors.domain.events import LogEvent, MessageReceived, MessageUpdated
from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import ChangeKind, Chat, Message, Reaction
from chatactors.storage.store import (
    ChatStore,
    LoadedChat,
    LogPage,
    MessageChange,
    MessagePage,
    StaleOwner,
)

from .factories import at, make_chat, make_message

TIMEOUT_S = 10
ALICE, BOB = UserId("alice"), UserId("bob")


@attrs.define
class _Chat:
    """A chat written the way its actor writes it: every entry at the next position."""

    store: ChatStore
    chat: Chat
    owner: int
    messages: list[Message] = attrs.field(factory=list)
    last_pos: int = 0

    async def post(self, user: str = "alice", **fields: Any) -> Message:
        seq = len(self.messages) + 1
        self.last_pos += 1
        message = make_message(self.chat, seq, user, pos=self.last_pos, **fields)
        await self.store.append_message(message, owner=self.owner)
        self.messages.append(message)
        return message

    async def change(self, message: Message, kind: ChangeKind, **fields: Any) -> Message:
        changed = attrs.evolve(self.messages[message.seq - 1], **fields)
        self.last_pos += 1
        change = MessageChange(changed, self.last_pos, kind, len(self.messages))
        await self.store.change_message(change, owner=self.owner)
        self.messages[message.seq - 1] = changed
        return changed


async def _load(store: ChatStore, chat_id: ChatId) -> LoadedChat:
    loaded = await store.load_chat(chat_id, window=100, idempotency_window=100)
    assert loaded is not None
    return loaded


async def _new_chat(store: ChatStore, chat_id: str = "c1") -> _Chat:
    chat = make_chat(chat_id, "alice", "bob", "bot_user")
    await store.create_chat(chat)
    return _Chat(store, chat, (await _load(store, chat.id)).owner_token)


def _entries(log: Sequence[LogEvent]) -> list[tuple[str, int, int]]:
    """(kind, pos, seq) of each entry."""
    return [
        ("updated", e.pos, e.message.seq)
        if isinstance(e, MessageUpdated)
        else ("received", e.message.pos, e.message.seq)
        for e in log
    ]


async def test_changes_are_read_back_everywhere_in_their_current_state(store: ChatStore) -> None:
    with trio.fail_after(TIMEOUT_S):
        chat = await _new_chat(store)
        first = await chat.post(client_message_id="c-1")
        await chat.post("bob", reply_to=first.id)
        edited = await chat.change(first, ChangeKind.EDITED, content="fixed", edited_at=at(99))
        reactions = (Reaction("👍", (BOB, ALICE)), Reaction("🇫🇷", (ALICE,)))
        current = await chat.change(first, ChangeKind.REACTION_ADDED, reactions=reactions)
        page = await store.read_messages(chat.chat.id, MessagePage(limit=10))
        found = await store.find_message(chat.chat.id, first.id)
        loaded = await _load(store, chat.chat.id)
    assert edited.content == "fixed"
    assert page == chat.messages
    assert page[0] == current
    assert page[0].reactions == reactions  # users and keys in the order they came
    assert page[1].reply_to == first.id
    assert found == current
    assert loaded.recent == tuple(chat.messages)
    assert loaded.client_ids[(ALICE, "c-1")] == current
    assert (loaded.last_seq, loaded.last_pos) == (2, 4)


async def test_a_deleted_message_keeps_its_place_without_its_content(store: ChatStore) -> None:
    with trio.fail_after(TIMEOUT_S):
        chat = await _new_chat(store)
        message = await chat.post(content="a secret")
        await chat.change(message, ChangeKind.REACTION_ADDED, reactions=(Reaction("👍", (BOB,)),))
        await chat.change(message, ChangeKind.DELETED, content="", deleted=True, reactions=())
        [stored] = await store.read_messages(chat.chat.id, MessagePage(limit=10))
    assert stored.deleted
    assert (stored.content, stored.reactions) == ("", ())
    assert (stored.id, stored.seq, stored.user_id, stored.timestamp) == (
        message.id, message.seq, message.user_id, message.timestamp,
    )  # fmt: skip


async def test_find_message_knows_only_the_chats_own_messages(store: ChatStore) -> None:
    with trio.fail_after(TIMEOUT_S):
        chat = await _new_chat(store)
        other = await _new_chat(store, "c2")
        message = await chat.post()
        assert await store.find_message(chat.chat.id, message.id) == message
        assert await store.find_message(other.chat.id, message.id) is None
        assert await store.find_message(chat.chat.id, MessageId("nope")) is None
        assert await store.find_message(chat.chat.id, MessageId("a\x00b")) is None
        assert await store.find_message(ChatId("nope"), message.id) is None


async def test_the_log_has_every_message_and_change_in_order(store: ChatStore) -> None:
    with trio.fail_after(TIMEOUT_S):
        chat = await _new_chat(store)
        m1 = await chat.post()  # pos 1
        m2 = await chat.post("bob")  # 2
        await chat.change(m1, ChangeKind.EDITED, content="one", edited_at=at(5))  # 3
        await chat.post()  # 4 (seq 3)
        await chat.change(m2, ChangeKind.REACTION_ADDED, reactions=(Reaction("🎉", (ALICE,)),))
        await chat.change(m1, ChangeKind.DELETED, content="", deleted=True)  # 6
        await chat.post("bob")  # 7 (seq 4)
        whole = await store.read_log(chat.chat.id, LogPage(0, 100))
        after_3 = await store.read_log(chat.chat.id, LogPage(3, 100))
        window = await store.read_log(chat.chat.id, LogPage(1, 3, through_pos=5))
        bounded = await store.read_log(chat.chat.id, LogPage(2, 2))
        none = await store.read_log(chat.chat.id, LogPage(7, 100))
        unknown = await store.read_log(ChatId("nope"), LogPage(0, 100))
    assert _entries(whole) == [
        ("received", 1, 1), ("received", 2, 2), ("updated", 3, 1), ("received", 4, 3),
        ("updated", 5, 2), ("updated", 6, 1), ("received", 7, 4),
    ]  # fmt: skip
    assert _entries(after_3) == _entries(whole)[3:]
    assert _entries(window) == _entries(whole)[1:4]
    assert _entries(bounded) == _entries(whole)[2:4]
    assert none == unknown == []
    # Each entry carries the message as it is now: the log keeps no replaced text.
    for entry in whole:
        assert entry.message == chat.messages[entry.message.seq - 1]
    change = whole[2]
    assert isinstance(change, MessageUpdated)
    assert change.change is ChangeKind.EDITED
    assert isinstance(whole[0], MessageReceived)
    assert whole[0].message.deleted


@pytest.mark.parametrize("after_pos", range(9))
async def test_reading_from_any_position_gives_the_rest_of_the_log(
    store: ChatStore, after_pos: int
) -> None:
    """Changes to messages before and after ``after_pos``: the entries after it, exactly."""
    with trio.fail_after(TIMEOUT_S):
        chat = await _new_chat(store)
        m1 = await chat.post()
        await chat.change(m1, ChangeKind.REACTION_ADDED, reactions=(Reaction("👍", (BOB,)),))
        await chat.change(m1, ChangeKind.REACTION_REMOVED, reactions=())
        m2 = await chat.post()
        await chat.post()
        await chat.change(m1, ChangeKind.EDITED, content="x", edited_at=at(1))
        await chat.change(m2, ChangeKind.EDITED, content="y", edited_at=at(2))
        await chat.post()
        log = await store.read_log(chat.chat.id, LogPage(after_pos, 100))
    assert [pos for _, pos, _ in _entries(log)] == list(range(after_pos + 1, 9))


async def test_a_stale_owner_cannot_change_a_message(store: ChatStore) -> None:
    with trio.fail_after(TIMEOUT_S):
        chat = await _new_chat(store)
        message = await chat.post(content="kept")
        newer = (await _load(store, chat.chat.id)).owner_token
        stale = MessageChange(attrs.evolve(message, content="", deleted=True), 2,
                              ChangeKind.DELETED, 1)  # fmt: skip
        with pytest.raises(StaleOwner):
            await store.change_message(stale, owner=chat.owner)
        assert await store.find_message(chat.chat.id, message.id) == message
        assert await store.read_log(chat.chat.id, LogPage(1, 10)) == []
        assert (await _load(store, chat.chat.id)).last_pos == 1
        chat.owner = newer + 1  # (each load claims again)
        await chat.change(message, ChangeKind.EDITED, content="new owner", edited_at=at(3))
        assert (await store.find_message(chat.chat.id, message.id)) == chat.messages[0]
