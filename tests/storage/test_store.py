"""The ChatStore contract, run against both engines (a real SQLite file and the memory store).

Policy: each test writes through the public ``ChatStore`` methods and reads back through them;
nothing peeks at tables or dicts. The real clock, with ``trio.fail_after`` around each test body,
because SQLite's worker threads would make the autojump clock jump.
"""

from __future__ import annotations

import pytest
import trio

from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import ReadMark
from chatactors.storage.store import ChatStore, MessagePage

from .factories import at, make_chat, make_message

TIMEOUT_S = 10


async def _chat_with_messages(store: ChatStore, count: int, chat_id: str = "c1") -> list:
    chat = make_chat(chat_id, "alice", "bob", "bot_user")
    await store.create_chat(chat)
    messages = [
        make_message(chat, seq, "alice" if seq % 2 else "bob") for seq in range(1, count + 1)
    ]
    for message in messages:
        await store.append_message(message, owner=0)
    return messages


async def test_created_chat_loads_with_participants_in_order(store: ChatStore) -> None:
    with trio.fail_after(TIMEOUT_S):
        chat = make_chat("c1", "zoe", "alice", "bot_user", created_ms=5)
        await store.create_chat(chat)
        loaded = await store.load_chat(chat.id, window=10, idempotency_window=10)
    assert loaded is not None
    assert loaded.chat == chat
    assert loaded.recent == ()
    assert loaded.last_seq == 0
    assert loaded.read_marks == {}
    assert loaded.last_seen == {}
    assert loaded.client_ids == {}


async def test_load_chat_returns_none_when_unknown(store: ChatStore) -> None:
    with trio.fail_after(TIMEOUT_S):
        assert await store.load_chat(ChatId("nope"), window=10, idempotency_window=10) is None


async def test_appended_messages_read_back_equal_oldest_first(store: ChatStore) -> None:
    with trio.fail_after(TIMEOUT_S):
        messages = await _chat_with_messages(store, 5)
        page = await store.read_messages(ChatId("c1"), MessagePage(limit=100))
    assert page == messages


@pytest.mark.parametrize(
    ("page", "expected_seqs"),
    [
        (MessagePage(limit=3), [8, 9, 10]),
        (MessagePage(limit=100), list(range(1, 11))),
        (MessagePage(limit=3, before_seq=6), [3, 4, 5]),
        (MessagePage(limit=10, before_seq=3), [1, 2]),
        (MessagePage(limit=3, after_seq=4), [5, 6, 7]),
        (MessagePage(limit=10, after_seq=8), [9, 10]),
        (MessagePage(limit=10, after_seq=10), []),
        (MessagePage(limit=2, after_seq=2, before_seq=8), [6, 7]),
        (MessagePage(limit=10, after_seq=2, before_seq=5), [3, 4]),
        (MessagePage(limit=0), []),
        (MessagePage(limit=0, after_seq=1), []),
    ],
)
async def test_page_selects_the_documented_messages_for_its_bounds(
    store: ChatStore, page: MessagePage, expected_seqs: list[int]
) -> None:
    """Newest ``limit`` before a seq; oldest ``limit`` after one; always oldest first."""
    with trio.fail_after(TIMEOUT_S):
        await _chat_with_messages(store, 10)
        got = await store.read_messages(ChatId("c1"), page)
    assert [m.seq for m in got] == expected_seqs


async def test_page_is_empty_when_chat_unknown(store: ChatStore) -> None:
    with trio.fail_after(TIMEOUT_S):
        assert await store.read_messages(ChatId("nope"), MessagePage(limit=10)) == []


async def test_pages_do_not_mix_chats(store: ChatStore) -> None:
    with trio.fail_after(TIMEOUT_S):
        first = await _chat_with_messages(store, 3, "c1")
        second = await _chat_with_messages(store, 2, "c2")
        assert await store.read_messages(ChatId("c1"), MessagePage(limit=10)) == first
        assert await store.read_messages(ChatId("c2"), MessagePage(limit=10)) == second


async def test_read_mark_and_last_seen_keep_the_newest_value(store: ChatStore) -> None:
    with trio.fail_after(TIMEOUT_S):
        messages = await _chat_with_messages(store, 4)
        chat_id = ChatId("c1")
        alice, bob = UserId("alice"), UserId("bob")
        await store.set_read_mark(chat_id, ReadMark(alice, messages[1].id, 2), owner=0)
        await store.set_read_mark(chat_id, ReadMark(alice, messages[3].id, 4), owner=0)
        await store.set_read_mark(chat_id, ReadMark(bob, messages[0].id, 1), owner=0)
        await store.set_last_seen(chat_id, alice, at(100), owner=0)
        await store.set_last_seen(chat_id, alice, at(250), owner=0)
        loaded = await store.load_chat(chat_id, window=10, idempotency_window=10)
    assert loaded is not None
    assert loaded.read_marks == {
        alice: ReadMark(alice, messages[3].id, 4),
        bob: ReadMark(bob, messages[0].id, 1),
    }
    assert loaded.last_seen == {alice: at(250)}


async def test_load_chat_window_keeps_the_newest_messages(store: ChatStore) -> None:
    with trio.fail_after(TIMEOUT_S):
        messages = await _chat_with_messages(store, 10)
        loaded = await store.load_chat(ChatId("c1"), window=4, idempotency_window=10)
        empty = await store.load_chat(ChatId("c1"), window=0, idempotency_window=10)
    assert loaded is not None
    assert empty is not None
    assert loaded.recent == tuple(messages[-4:])
    assert loaded.last_seq == 10
    assert empty.recent == ()
    assert empty.last_seq == 10


async def test_load_chat_client_ids_cover_the_idempotency_window(store: ChatStore) -> None:
    chat = make_chat("c1", "alice", "bob")
    messages = [
        make_message(chat, seq, "alice" if seq % 2 else "bob", client_message_id=f"k{seq}")
        for seq in range(1, 7)
    ]
    # Without a client id: never in the map.
    messages.append(make_message(chat, 7, "alice"))
    with trio.fail_after(TIMEOUT_S):
        await store.create_chat(chat)
        for message in messages:
            await store.append_message(message, owner=0)
        loaded = await store.load_chat(chat.id, window=2, idempotency_window=4)
    assert loaded is not None
    # The newest 4 seqs are 4..7; 7 has no client id.
    assert loaded.client_ids == {(m.user_id, f"k{m.seq}"): m for m in messages[3:6]}


async def test_load_chat_client_ids_are_empty_when_idempotency_window_zero(
    store: ChatStore,
) -> None:
    chat = make_chat("c1", "alice", "bob")
    with trio.fail_after(TIMEOUT_S):
        await store.create_chat(chat)
        await store.append_message(make_message(chat, 1, "alice", client_message_id="k1"), owner=0)
        loaded = await store.load_chat(chat.id, window=10, idempotency_window=0)
    assert loaded is not None
    assert loaded.client_ids == {}


async def test_user_chats_show_last_message_and_unread_from_others(store: ChatStore) -> None:
    chat = make_chat("c1", "alice", "bob", "bot_user")
    m1 = make_message(chat, 1, "bob")
    m2 = make_message(chat, 2, "alice")
    m3 = make_message(chat, 3, "bob")
    m4 = make_message(chat, 4, "bot_user")
    with trio.fail_after(TIMEOUT_S):
        await store.create_chat(chat)
        for message in (m1, m2, m3, m4):
            await store.append_message(message, owner=0)
        before_read = await store.list_user_chats(UserId("alice"), limit=10)
        await store.set_read_mark(chat.id, ReadMark(UserId("alice"), m3.id, 3), owner=0)
        after_read = await store.list_user_chats(UserId("alice"), limit=10)
        for_bob = await store.list_user_chats(UserId("bob"), limit=10)
    [summary] = before_read
    assert summary.chat == chat
    assert summary.last_message == m4
    assert summary.last_activity == m4.timestamp
    # bob's two and the bot's one; alice's own message never counts.
    assert summary.unread_count == 3
    assert [s.unread_count for s in after_read] == [1]
    # bob has no read mark: alice's and the bot's messages.
    assert [s.unread_count for s in for_bob] == [2]


async def test_user_chats_order_newest_activity_first(store: ChatStore) -> None:
    old_chat_new_message = make_chat("old", "alice", "bob", created_ms=0)
    quiet_chat = make_chat("quiet", "alice", "carol", created_ms=500)
    new_chat_old_message = make_chat("new", "alice", "dave", created_ms=600)
    with trio.fail_after(TIMEOUT_S):
        for chat in (old_chat_new_message, quiet_chat, new_chat_old_message):
            await store.create_chat(chat)
        await store.append_message(make_message(new_chat_old_message, 1, "dave", ms=700), owner=0)
        await store.append_message(make_message(old_chat_new_message, 1, "bob", ms=900), owner=0)
        summaries = await store.list_user_chats(UserId("alice"), limit=10)
        limited = await store.list_user_chats(UserId("alice"), limit=2)
    assert [s.chat.id for s in summaries] == ["old", "new", "quiet"]
    assert [s.last_activity for s in summaries] == [at(900), at(700), at(500)]
    assert summaries[2].last_message is None
    assert summaries[2].unread_count == 0
    assert [s.chat.id for s in limited] == ["old", "new"]


async def test_user_chats_leave_out_chats_without_the_user(store: ChatStore) -> None:
    with trio.fail_after(TIMEOUT_S):
        await store.create_chat(make_chat("c1", "alice", "bob"))
        await store.create_chat(make_chat("c2", "carol", "bob"))
        assert [s.chat.id for s in await store.list_user_chats(UserId("carol"), limit=10)] == ["c2"]
        assert await store.list_user_chats(UserId("nobody"), limit=10) == []


async def test_list_chats_gives_creation_order_up_to_limit(store: ChatStore) -> None:
    chats = [make_chat(f"c{i}", "alice", f"u{i}", created_ms=i) for i in range(5)]
    with trio.fail_after(TIMEOUT_S):
        for chat in chats:
            await store.create_chat(chat)
        assert await store.list_chats(limit=10) == chats
        assert await store.list_chats(limit=2) == chats[:2]


async def test_read_mark_without_message_id_round_trips(store: ChatStore) -> None:
    with trio.fail_after(TIMEOUT_S):
        await store.create_chat(make_chat("c1", "alice", "bob"))
        await store.set_read_mark(ChatId("c1"), ReadMark(UserId("bob"), None, 0), owner=0)
        loaded = await store.load_chat(ChatId("c1"), window=1, idempotency_window=1)
    assert loaded is not None
    assert loaded.read_marks == {UserId("bob"): ReadMark(UserId("bob"), None, 0)}


async def test_unicode_and_large_content_round_trip(store: ChatStore) -> None:
    chat = make_chat("c1", "alice", "bob")
    big = "ü😀\x00'\"; DROP TABLE messages; --" + "x" * 200_000
    message = make_message(chat, 1, "alice", content=big)
    with trio.fail_after(TIMEOUT_S):
        await store.create_chat(chat)
        await store.append_message(message, owner=0)
        [read] = await store.read_messages(chat.id, MessagePage(limit=1))
    assert read == message
    assert read.id == MessageId(message.id)


async def test_check_ready_passes_when_open(store: ChatStore) -> None:
    with trio.fail_after(TIMEOUT_S):
        await store.check_ready()


async def test_user_chats_with_equal_activity_put_the_newer_chat_first(store: ChatStore) -> None:
    """Both engines break ties the same way, so a client's list does not depend on the engine."""
    with trio.fail_after(TIMEOUT_S):
        for chat_id in ("first", "second", "third"):
            await store.create_chat(make_chat(chat_id, "alice", "bob", created_ms=42))
        summaries = await store.list_user_chats(UserId("alice"), limit=10)
    assert [s.chat.id for s in summaries] == ["third", "second", "first"]


async def test_ids_with_nul_are_simply_unknown(store: ChatStore) -> None:
    """No stored id holds NUL (PostgreSQL's TEXT cannot): such a lookup finds nothing."""
    with trio.fail_after(TIMEOUT_S):
        await store.create_chat(make_chat("c1", "alice", "bob"))
        assert await store.load_chat(ChatId("c1\x00"), window=1, idempotency_window=1) is None
        assert await store.read_messages(ChatId("c1\x00"), MessagePage(limit=1)) == []
        assert await store.list_user_chats(UserId("alice\x00"), limit=10) == []


async def test_client_message_id_with_nul_round_trips(store: ChatStore) -> None:
    chat = make_chat("c1", "alice", "bob")
    message = make_message(chat, 1, "alice", client_message_id="k\x00ey")
    with trio.fail_after(TIMEOUT_S):
        await store.create_chat(chat)
        await store.append_message(message, owner=0)
        loaded = await store.load_chat(chat.id, window=1, idempotency_window=1)
    assert loaded is not None
    assert loaded.client_ids == {(UserId("alice"), "k\x00ey"): message}
