"""Chats that change, on every engine: a title and members stored with their system message,
the participants table following at once (user chat lists), fencing, and a round trip of
every field.

Policy: as ``test_store.py`` (public ``ChatStore`` methods only, the real clock, bounded).
"""

from __future__ import annotations

import attrs
import pytest
import trio

from chatactors.domain.ids import BOT_USER, ChatId, UserId
from chatactors.domain.models import (
    Chat,
    ChatChange,
    ChatChangeKind,
    ChatKind,
    Message,
    ReadMark,
)
from chatactors.storage.store import (
    ChatStore,
    ChatUpdate,
    LoadedChat,
    LogPage,
    MessagePage,
    StaleOwner,
)

from .factories import make_chat, make_message

TIMEOUT_S = 10
ALICE, BOB, CAROL, DAVE = UserId("alice"), UserId("bob"), UserId("carol"), UserId("dave")


async def _load(store: ChatStore, chat_id: ChatId) -> LoadedChat:
    loaded = await store.load_chat(chat_id, window=100, idempotency_window=100)
    assert loaded is not None
    return loaded


def _system(chat: Chat, seq: int, change: ChatChange, *, pos: int | None = None) -> Message:
    return attrs.evolve(
        make_message(chat, seq, change.by, pos=pos, content=f"change {seq}"), system=change
    )


async def test_a_new_chats_title_kind_and_creator_are_stored(store: ChatStore) -> None:
    titled = attrs.evolve(
        make_chat("c1", "alice", "bob", "bot_user"), title="Plans \u2728", created_by=BOB
    )
    direct = attrs.evolve(make_chat("c2", "carol", "dave", "bot_user"), kind=ChatKind.DIRECT)
    with trio.fail_after(TIMEOUT_S):
        for chat in (titled, direct):
            await store.create_chat(chat)
        assert (await _load(store, titled.id)).chat == titled
        assert (await _load(store, direct.id)).chat == direct
        assert await store.list_chats(limit=10) == [titled, direct]
        [summary] = await store.list_user_chats(CAROL, limit=10)
    assert summary.chat == direct


async def test_members_added_and_removed_follow_in_every_read(store: ChatStore) -> None:
    chat = make_chat("c1", "alice", "bob", "bot_user")
    with trio.fail_after(TIMEOUT_S):
        await store.create_chat(chat)
        owner = (await _load(store, chat.id)).owner_token
        first = make_message(chat, 1, "alice")
        await store.append_message(first, owner=owner)
        added = attrs.evolve(chat, participants=(ALICE, BOB, CAROL, DAVE, BOT_USER))
        adding = _system(chat, 2, ChatChange(ChatChangeKind.MEMBERS_ADDED, BOB, (CAROL, DAVE)))
        marks = (ReadMark(CAROL, adding.id, 2), ReadMark(DAVE, adding.id, 2))
        await store.update_chat(ChatUpdate(added, adding, marks), owner=owner)
        removed = attrs.evolve(added, participants=(ALICE, CAROL, DAVE, BOT_USER), title="Trio")
        removing = _system(chat, 3, ChatChange(ChatChangeKind.MEMBER_LEFT, BOB, (BOB,)))
        await store.update_chat(ChatUpdate(removed, removing), owner=owner)

        loaded = await _load(store, chat.id)
        assert loaded.chat == removed
        assert (loaded.last_seq, loaded.last_pos) == (3, 3)
        assert loaded.recent == (first, adding, removing)
        assert loaded.read_marks[CAROL] == marks[0]
        assert await store.read_messages(chat.id, MessagePage(limit=10)) == [
            first, adding, removing,
        ]  # fmt: skip
        assert [e.message for e in await store.read_log(chat.id, LogPage(1, 10))] == [
            adding, removing,
        ]  # fmt: skip
        assert await store.find_message(chat.id, removing.id) == removing
        assert await store.list_user_chats(BOB, limit=10) == []
        [dave] = await store.list_user_chats(DAVE, limit=10)
        [alice] = await store.list_user_chats(ALICE, limit=10)
        assert await store.list_chats(limit=10) == [removed]
    assert dave.chat == removed
    assert dave.last_message == removing
    assert dave.unread_count == 1  # bob's leaving, after the addition she has read
    assert dave.last_activity == removing.timestamp
    assert alice.unread_count == 2


async def test_a_member_removed_then_added_again_comes_back_last(store: ChatStore) -> None:
    chat = make_chat("c1", "alice", "bob", "carol", "bot_user")
    with trio.fail_after(TIMEOUT_S):
        await store.create_chat(chat)
        owner = (await _load(store, chat.id)).owner_token
        out = attrs.evolve(chat, participants=(ALICE, CAROL, BOT_USER))
        change = ChatChange(ChatChangeKind.MEMBER_REMOVED, ALICE, (BOB,))
        await store.update_chat(ChatUpdate(out, _system(chat, 1, change)), owner=owner)
        back = attrs.evolve(chat, participants=(ALICE, CAROL, BOB, BOT_USER))
        change = ChatChange(ChatChangeKind.MEMBERS_ADDED, CAROL, (BOB,))
        await store.update_chat(ChatUpdate(back, _system(chat, 2, change)), owner=owner)
        assert (await _load(store, chat.id)).chat == back
        assert [s.chat.id for s in await store.list_user_chats(BOB, limit=10)] == [chat.id]


async def test_a_stale_owners_chat_update_is_refused_and_changes_nothing(
    store: ChatStore,
) -> None:
    chat = make_chat("c1", "alice", "bob", "bot_user")
    with trio.fail_after(TIMEOUT_S):
        await store.create_chat(chat)
        old = (await _load(store, chat.id)).owner_token
        await _load(store, chat.id)  # another activation claims it
        gone = attrs.evolve(chat, participants=(ALICE, BOT_USER), title="mine")
        change = ChatChange(ChatChangeKind.MEMBER_REMOVED, ALICE, (BOB,))
        with pytest.raises(StaleOwner):
            await store.update_chat(ChatUpdate(gone, _system(chat, 1, change)), owner=old)
        after = await _load(store, chat.id)
        assert [s.chat.id for s in await store.list_user_chats(BOB, limit=10)] == [chat.id]
    assert after.chat == chat
    assert (after.last_seq, after.last_pos, after.recent) == (0, 0, ())


async def test_a_title_cleared_and_the_last_human_gone_read_back(store: ChatStore) -> None:
    chat = attrs.evolve(make_chat("c1", "alice", "bot_user"), title="Solo")
    with trio.fail_after(TIMEOUT_S):
        await store.create_chat(chat)
        owner = (await _load(store, chat.id)).owner_token
        cleared = attrs.evolve(chat, title=None)
        change = ChatChange(ChatChangeKind.TITLE_CHANGED, ALICE, title=None)
        await store.update_chat(ChatUpdate(cleared, _system(chat, 1, change)), owner=owner)
        empty = attrs.evolve(cleared, participants=(BOT_USER,))
        change = ChatChange(ChatChangeKind.MEMBER_LEFT, ALICE, (ALICE,))
        await store.update_chat(ChatUpdate(empty, _system(chat, 2, change)), owner=owner)
        loaded = await _load(store, chat.id)
    assert loaded.chat == empty
    assert loaded.chat.admin is None
    assert [m.system for m in loaded.recent] == [
        ChatChange(ChatChangeKind.TITLE_CHANGED, ALICE, title=None),
        ChatChange(ChatChangeKind.MEMBER_LEFT, ALICE, (ALICE,)),
    ]
