"""The search contract (``ChatStore.search``, storage/search.py), on every engine: SQLite's FTS5
index, PostgreSQL's tsvector, the memory store's scan. And mentions, stored and counted.

Policy: each test writes through the public ``ChatStore`` methods and reads back through them
(members added and removed with ``update_chat`` and the system message that records it, as the
chat actor writes them; once, a participant removed straight from the participants table, the
store's truth); the real clock with ``trio.fail_after``.
"""

from __future__ import annotations

import random
import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from chatactors.domain.chat_changes import describe
from chatactors.domain.ids import BOT_USER, ChatId, UserId
from chatactors.domain.models import (
    ChangeKind,
    Chat,
    ChatChange,
    ChatChangeKind,
    Message,
    MessageType,
    ReadMark,
)
from chatactors.domain.search_query import parse_query
from chatactors.storage import search as search_module
from chatactors.storage.memory import MemoryStore
from chatactors.storage.postgres import PgStore
from chatactors.storage.search import (
    RELEVANCE_DEPTH,
    SearchOrder,
    SearchPage,
    SearchRequest,
)
from chatactors.storage.sqlite import SqliteStore, open_sqlite_store
from chatactors.storage.store import ChatStore, ChatUpdate, MessageChange

from .factories import make_chat, make_message

TIMEOUT_S = 20
ALICE, BOB, CAROL, DAVE = UserId("alice"), UserId("bob"), UserId("carol"), UserId("dave")


class Chats:
    """Chats built message by message, each message stored at the next log position."""

    def __init__(self, store: ChatStore) -> None:
        self.store = store
        self.messages: dict[ChatId, list[Message]] = {}
        self.pos: dict[ChatId, int] = {}

    async def chat(self, chat_id: str, *users: str) -> Chat:
        chat = make_chat(chat_id, *users, "bot_user")
        await self.store.create_chat(chat)
        self.messages[chat.id] = []
        self.pos[chat.id] = 0
        return chat

    async def post(
        self,
        chat: Chat,
        user: str,
        content: str,
        *,
        kind: MessageType = MessageType.TEXT,
        mentions: Sequence[str] = (),
    ) -> Message:
        sent = self.messages[chat.id]
        self.pos[chat.id] += 1
        message = attrs.evolve(
            make_message(chat, len(sent) + 1, user, content=content, pos=self.pos[chat.id]),
            type=kind,
            mentions=tuple(UserId(u) for u in mentions),
        )
        await self.store.append_message(message, owner=0)
        sent.append(message)
        return message

    async def change(self, message: Message, kind: ChangeKind, **changes: Any) -> Message:
        chat_id = message.chat_id
        self.pos[chat_id] += 1
        changed = attrs.evolve(message, **changes)
        last_seq = len(self.messages[chat_id])
        await self.store.change_message(
            MessageChange(changed, self.pos[chat_id], kind, last_seq), owner=0
        )
        self.messages[chat_id][message.seq - 1] = changed
        return changed

    async def update(
        self, chat: Chat, change: ChatChange, *, title: str | None = None,
        members: Sequence[UserId] | None = None,
    ) -> tuple[Chat, Message]:  # fmt: skip
        """The chat with its new title or members (``bot_user`` kept last), recorded by its
        system message; members added have read up to it (as the chat actor writes it)."""
        sent = self.messages[chat.id]
        self.pos[chat.id] += 1
        people = chat.humans if members is None else tuple(members)
        changed = attrs.evolve(chat, title=title, participants=(*people, BOT_USER))
        message = attrs.evolve(
            make_message(chat, len(sent) + 1, change.by, content=describe(change),
                         pos=self.pos[chat.id]),
            system=change,
        )  # fmt: skip
        added = change.users if change.kind is ChatChangeKind.MEMBERS_ADDED else ()
        marks = tuple(ReadMark(user, message.id, message.seq) for user in added)
        await self.store.update_chat(ChatUpdate(changed, message, marks), owner=0)
        sent.append(message)
        return changed, message

    async def delete(self, message: Message) -> Message:
        return await self.change(
            message, ChangeKind.DELETED, content="", deleted=True, reactions=(), mentions=()
        )


async def _search(store: ChatStore, q: str, user: UserId = ALICE, **filters: Any) -> list[str]:
    page = await store.search(SearchRequest(user, parse_query(q), 50, **filters))
    return [m.content for m in page.messages]


async def test_every_word_must_match_in_any_case_and_accent(store: ChatStore) -> None:
    chats = Chats(store)
    with trio.fail_after(TIMEOUT_S):
        chat = await chats.chat("c1", "alice", "bob")
        await chats.post(chat, "alice", "Lunch at the Café on Friday?")
        await chats.post(chat, "bob", "friday works, cafe ÉMILIE")
        await chats.post(chat, "bob", "Monday lunch then")
        assert await _search(store, "friday") == ["friday works, cafe ÉMILIE",
                                                  "Lunch at the Café on Friday?"]  # fmt: skip
        assert await _search(store, "LUNCH café") == ["Lunch at the Café on Friday?"]
        assert await _search(store, "emilie CAFÉ") == ["friday works, cafe ÉMILIE"]
        assert await _search(store, "lunch sunday") == []


async def test_phrases_prefixes_and_cjk(store: ChatStore) -> None:
    chats = Chats(store)
    with trio.fail_after(TIMEOUT_S):
        chat = await chats.chat("c1", "alice", "bob")
        await chats.post(chat, "alice", "the conference call is at noon")
        await chats.post(chat, "bob", "call the conference room")
        await chats.post(chat, "bob", "東京タワーに行きました")
        await chats.post(chat, "bob", "京都と東北")
        await chats.post(chat, "alice", "my e-mail is alice@example.com")
        assert await _search(store, '"conference call"') == ["the conference call is at noon"]
        assert await _search(store, '"call the"') == ["call the conference room"]
        assert await _search(store, "confer*") == ["call the conference room",
                                                   "the conference call is at noon"]  # fmt: skip
        assert await _search(store, "onference*") == []  # a prefix starts a word
        assert await _search(store, '"the conf"*') == [
            "call the conference room", "the conference call is at noon",
        ]  # fmt: skip
        assert await _search(store, "東京") == ["東京タワーに行きました"]
        assert await _search(store, "京") == ["京都と東北", "東京タワーに行きました"]
        assert await _search(store, "京東") == []
        assert await _search(store, "e-mail example.com") == ["my e-mail is alice@example.com"]


async def test_filters_narrow_to_a_chat_an_author_a_type(store: ChatStore) -> None:
    chats = Chats(store)
    with trio.fail_after(TIMEOUT_S):
        one = await chats.chat("c1", "alice", "bob")
        two = await chats.chat("c2", "alice", "carol")
        await chats.post(one, "alice", "report one")
        await chats.post(one, "bob", "report two")
        await chats.post(two, "carol", "report three")
        await chats.post(two, "carol", "http://x/report.png", kind=MessageType.IMAGE)
        assert await _search(store, "report", chat_id=ChatId("c2")) == [
            "http://x/report.png", "report three",
        ]  # fmt: skip
        assert await _search(store, "report", author=BOB) == ["report two"]
        assert await _search(store, "report", author=CAROL, type=MessageType.TEXT) == [
            "report three"
        ]
        assert await _search(store, "report", type=MessageType.IMAGE) == ["http://x/report.png"]
        assert await _search(store, "report", type=MessageType.AUDIO) == []
        assert await _search(store, "report", chat_id=ChatId("nope")) == []


async def test_only_the_users_own_chats_are_searched(store: ChatStore) -> None:
    chats = Chats(store)
    with trio.fail_after(TIMEOUT_S):
        mine = await chats.chat("c1", "alice", "bob")
        theirs = await chats.chat("c2", "bob", "carol")
        await chats.post(mine, "bob", "secret plan A")
        await chats.post(theirs, "bob", "secret plan B")
        assert await _search(store, "secret", ALICE) == ["secret plan A"]
        assert await _search(store, "secret", CAROL) == ["secret plan B"]
        assert await _search(store, "secret", BOB) == ["secret plan B", "secret plan A"]
        # Naming a chat one is not in finds nothing there either.
        assert await _search(store, "secret", ALICE, chat_id=ChatId("c2")) == []
        assert await _search(store, "secret", UserId("mallory")) == []


async def test_an_edited_message_is_found_by_its_new_text_and_a_deleted_one_never(
    store: ChatStore,
) -> None:
    chats = Chats(store)
    with trio.fail_after(TIMEOUT_S):
        chat = await chats.chat("c1", "alice", "bob")
        first = await chats.post(chat, "alice", "meet at the harbour")
        second = await chats.post(chat, "alice", "harbour gate seven")
        await chats.post(chat, "bob", "ok")
        await chats.change(first, ChangeKind.EDITED, content="meet at the station")
        await chats.change(second, ChangeKind.REACTION_ADDED)  # no change to the index
        assert await _search(store, "harbour") == ["harbour gate seven"]
        assert await _search(store, "station") == ["meet at the station"]
        await chats.delete(second)
        assert await _search(store, "harbour") == []
        assert await _search(store, "gate") == []
        assert await _search(store, "meet") == ["meet at the station"]


async def test_newest_first_pages_continue_with_no_gap_and_no_repeat(store: ChatStore) -> None:
    chats = Chats(store)
    with trio.fail_after(TIMEOUT_S):
        one = await chats.chat("c1", "alice", "bob")
        two = await chats.chat("c2", "alice", "carol")
        for number in range(1, 13):
            await chats.post(one if number % 3 else two, "alice", f"note {number}")
        seen: list[str] = []
        after: int | None = None
        pages = 0
        while True:
            page: SearchPage = await store.search(
                SearchRequest(ALICE, parse_query("note"), 5, after=after)
            )
            seen.extend(m.content for m in page.messages)
            pages += 1
            if page.next is None:
                break
            after = page.next
    assert seen == [f"note {number}" for number in range(12, 0, -1)]
    assert pages == 3


async def test_relevance_puts_the_best_match_first_and_pages_by_offset(store: ChatStore) -> None:
    chats = Chats(store)
    with trio.fail_after(TIMEOUT_S):
        chat = await chats.chat("c1", "alice", "bob")
        for filler in ("nothing to see", "other words here", "more noise", "still nothing"):
            await chats.post(chat, "bob", filler)
        await chats.post(chat, "bob", "apple banana cherry date elder fig grape honeydew kiwi")
        await chats.post(chat, "bob", "apple apple apple pie")
        await chats.post(chat, "bob", "apple tart")
        request = SearchRequest(ALICE, parse_query("apple"), 2, order=SearchOrder.RELEVANCE)
        first = await store.search(request)
        assert [m.content for m in first.messages] == ["apple apple apple pie", "apple tart"]
        assert first.next == 2
        rest = await store.search(attrs.evolve(request, after=first.next))
    assert [m.content for m in rest.messages] == [
        "apple banana cherry date elder fig grape honeydew kiwi"
    ]
    assert rest.next is None


async def test_relevance_ranks_the_newest_matches_only(
    store: ChatStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The best match older than the window is not ranked: a word in most messages costs
    what a rare one does (storage/search.py, RELEVANCE_CANDIDATES)."""
    monkeypatch.setattr(search_module, "RELEVANCE_CANDIDATES", 3)
    chats = Chats(store)
    with trio.fail_after(TIMEOUT_S):
        chat = await chats.chat("c1", "alice", "bob")
        await chats.post(chat, "bob", "apple apple apple")
        for words in ("apple one two three", "apple tart", "apple pie crust", "no fruit"):
            await chats.post(chat, "bob", words)
        assert await _search(store, "apple", order=SearchOrder.RELEVANCE) == [
            "apple tart", "apple pie crust", "apple one two three",
        ]  # fmt: skip
        assert len(await _search(store, "apple")) == 4  # newest first: every match


async def test_sqlite_and_memory_rank_alike() -> None:
    """Both rank with the same BM25 over the same counts (storage/search.py, ``ranked``): the
    same order for words of every frequency, phrases and prefixes, by chat and author."""
    rng = random.Random(25)
    vocabulary = ["apple", "apricot", "banana", "cherry", "kiwi", "lime", "mango", "melon"]
    weights = [40, 5, 20, 10, 3, 8, 2, 12]
    queries = [("apple",), ("kiwi",), ("apple kiwi",), ("ap*",), ("banana cherry",),
               ('"apple banana"',), ("melon lime apple",)]  # fmt: skip
    with tempfile.TemporaryDirectory() as data_dir, trio.fail_after(TIMEOUT_S):
        memory = MemoryStore()
        async with open_sqlite_store(Path(data_dir)) as sqlite:
            writers = [Chats(memory), Chats(sqlite)]
            chats = [[await w.chat(f"c{n}", "alice", "bob") for n in range(3)] for w in writers]
            for number in range(120):
                words = rng.choices(vocabulary, weights, k=rng.randint(1, 9))
                chat, author = rng.randrange(3), rng.choice(["alice", "bob"])
                for writer, theirs in zip(writers, chats, strict=True):
                    await writer.post(theirs[chat], author, f"{number}: {' '.join(words)}")
            for (q,) in queries:
                for filters in ({}, {"chat_id": ChatId("c1")}, {"author": BOB}):
                    ranked = [
                        await _search(store, q, order=SearchOrder.RELEVANCE, **filters)
                        for store in (memory, sqlite)
                    ]
                    assert ranked[0] == ranked[1], (q, filters)
                    assert ranked[0], (q, filters)


async def test_relevance_goes_no_deeper_than_its_depth(store: ChatStore) -> None:
    chats = Chats(store)
    with trio.fail_after(TIMEOUT_S):
        chat = await chats.chat("c1", "alice", "bob")
        for number in range(3):
            await chats.post(chat, "bob", f"deep {number}")
        near_the_end = SearchRequest(
            ALICE, parse_query("deep"), 2, order=SearchOrder.RELEVANCE, after=RELEVANCE_DEPTH - 2
        )
        page = await store.search(near_the_end)
    assert page.next is None


async def test_mentions_are_stored_and_unread_ones_counted(store: ChatStore) -> None:
    chats = Chats(store)
    with trio.fail_after(TIMEOUT_S):
        chat = await chats.chat("c1", "alice", "bob", "carol")
        first = await chats.post(chat, "bob", "@alice look", mentions=["alice"])
        await chats.post(chat, "carol", "@all hi", mentions=["alice", "bob", "bot_user"])
        await chats.post(chat, "bob", "no mention")
        await store.set_read_mark(chat.id, ReadMark(ALICE, first.id, 1), owner=0)
        stored = await store.find_message(chat.id, first.id)
        assert stored is not None
        assert stored.mentions == (ALICE,)

        async def unread(user: UserId) -> tuple[int, int]:
            (summary,) = await store.list_user_chats(user, limit=10)
            return summary.unread_count, summary.unread_mentions

        assert await unread(ALICE) == (2, 1)  # read up to the first
        assert await unread(BOB) == (1, 1)  # his own messages are not unread
        assert await unread(CAROL) == (2, 0)
        edited = await chats.change(
            chats.messages[chat.id][2], ChangeKind.EDITED, content="@carol now", mentions=(CAROL,)
        )
        assert edited.mentions == (CAROL,)
        assert await unread(CAROL) == (2, 1)
        await chats.delete(edited)
        assert await unread(CAROL) == (2, 0)
        loaded = await store.load_chat(chat.id, window=10, idempotency_window=10)
    assert loaded is not None
    assert [m.mentions for m in loaded.recent] == [(ALICE,), (ALICE, BOB, UserId("bot_user")), ()]


async def test_a_participant_removed_from_the_store_finds_that_chat_no_more(
    store: ChatStore,
) -> None:
    """Search reads the store's participants with the matches: once a user is out of a chat
    there (however the removal got there), its messages are out of their results."""
    chats = Chats(store)
    with trio.fail_after(TIMEOUT_S):
        chat = await chats.chat("c1", "alice", "bob")
        await chats.post(chat, "bob", "plans for friday")
        assert await _search(store, "friday") == ["plans for friday"]
        await trio.to_thread.run_sync(_remove_participant, store, chat.id, ALICE)
        assert await _search(store, "friday") == []
        assert await _search(store, "friday", BOB) == ["plans for friday"]


def _remove_participant(store: ChatStore, chat_id: ChatId, user: UserId) -> None:
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as conn:
            conn.execute(
                "DELETE FROM participants WHERE chat_id = ? AND user_id = ?", (chat_id, user)
            )
    elif isinstance(store, PgStore):
        with store._pool.connection() as conn:
            conn.execute(
                "DELETE FROM participants WHERE chat_id = %s AND user_id = %s", (chat_id, user)
            )
    else:
        assert isinstance(store, MemoryStore)
        stored = store._chats[chat_id]
        stored.chat = attrs.evolve(
            stored.chat, participants=tuple(u for u in stored.chat.participants if u != user)
        )


async def test_search_follows_membership_out_and_back_in(store: ChatStore) -> None:
    """Removed: none of the chat's messages, however asked (by chat, by relevance); added
    (or added again): its whole history from the start, as its pages give it. Unread mentions
    follow the read mark an added member starts with."""
    chats = Chats(store)
    removed = ChatChange(ChatChangeKind.MEMBER_REMOVED, CAROL, (ALICE,))
    added = ChatChange(ChatChangeKind.MEMBERS_ADDED, BOB, (DAVE, ALICE))

    async def unread_mentions(user: UserId) -> list[int]:
        listed = await store.list_user_chats(user, limit=10)
        return [s.unread_mentions for s in listed if s.chat.id == chat.id]

    with trio.fail_after(TIMEOUT_S):
        chat = await chats.chat("c1", "carol", "alice", "bob")
        other = await chats.chat("c2", "alice", "bob")
        await chats.post(chat, "bob", "plans for friday @alice", mentions=["alice"])
        await chats.post(other, "bob", "friday lunch")
        assert await _search(store, "friday") == ["friday lunch", "plans for friday @alice"]
        assert await _search(store, "friday", DAVE) == []
        assert await unread_mentions(ALICE) == [1]

        chat, _ = await chats.update(chat, removed, members=[CAROL, BOB])
        assert await _search(store, "friday") == ["friday lunch"]
        assert await _search(store, "friday", chat_id=chat.id) == []
        assert await _search(store, "plans", order=SearchOrder.RELEVANCE) == []
        assert await unread_mentions(ALICE) == []  # the chat left their list
        await chats.post(chat, "bob", "friday moved to monday @alice", mentions=[])
        assert await _search(store, "friday", chat_id=chat.id) == []

        chat, _ = await chats.update(chat, added, members=[CAROL, BOB, DAVE, ALICE])
        history = ["friday moved to monday @alice", "plans for friday @alice"]
        assert await _search(store, "friday", DAVE) == history
        assert await _search(store, "friday", chat_id=chat.id) == history
        assert await _search(store, "plans", DAVE, order=SearchOrder.RELEVANCE) == history[1:]
        assert await unread_mentions(ALICE) == [0]  # read up to the line that added them
        await chats.post(chat, "carol", "welcome back @alice", mentions=["alice"])
        assert await unread_mentions(ALICE) == [1]


async def test_system_messages_are_never_found(store: ChatStore) -> None:
    """The lines that record a chat's changes (its title, who came and went) are the
    server's words: no query finds them, whatever the order or filter, and they mention
    nobody."""
    chats = Chats(store)
    with trio.fail_after(TIMEOUT_S):
        chat = await chats.chat("c1", "alice", "bob")
        chat, titled = await chats.update(
            chat, ChatChange(ChatChangeKind.TITLE_CHANGED, ALICE, title="Roadmap"),
            title="Roadmap",
        )  # fmt: skip
        chat, joined = await chats.update(
            chat, ChatChange(ChatChangeKind.MEMBERS_ADDED, ALICE, (DAVE,)),
            members=[ALICE, BOB, DAVE],
        )  # fmt: skip
        await chats.post(chat, "bob", "dave named the roadmap")
        assert (titled.content, joined.content) == (
            "alice named the chat \u201cRoadmap\u201d", "alice added dave",
        )  # fmt: skip
        for user in (ALICE, DAVE):
            for q in ("roadmap", "named", "dave", "alice", "ali*", "added", '"the chat"'):
                expected = ["dave named the roadmap"] if q in ("roadmap", "named", "dave") else []
                assert await _search(store, q, user) == expected, (user, q)
                ranked = await _search(store, q, user, order=SearchOrder.RELEVANCE)
                assert ranked == expected, (user, q)
            assert await _search(store, "added", user, author=ALICE, chat_id=chat.id) == []
        (listed,) = await store.list_user_chats(BOB, limit=10)
        assert (listed.unread_count, listed.unread_mentions) == (2, 0)


@pytest.mark.parametrize(
    ("q", "found"),
    [("AND", True), ("NOT x", True), ("x OR", True), ("a:b", True), ("^x", True),
     ('"b or" *', True), ("NEAR(x and)", True), ("x AND y", False), ("or*", True)],
)  # fmt: skip
async def test_fts_syntax_in_a_query_is_plain_text(store: ChatStore, q: str, found: bool) -> None:
    """Whatever FTS5 or tsquery would make of it, a query is words: it finds them or not."""
    chats = Chats(store)
    with trio.fail_after(TIMEOUT_S):
        chat = await chats.chat("c1", "alice", "bob")
        await chats.post(chat, "bob", "near x and not a b or")
        assert await _search(store, q) == (["near x and not a b or"] if found else [])


async def test_ids_no_store_can_hold_find_nothing(store: ChatStore) -> None:
    chats = Chats(store)
    with trio.fail_after(TIMEOUT_S):
        chat = await chats.chat("c1", "alice", "bob")
        await chats.post(chat, "bob", "needle")
        assert await _search(store, "needle", chat_id=ChatId("c\x001")) == []
        assert await _search(store, "needle", author=UserId("b\x00ob")) == []
        assert await _search(store, "needle", UserId("ali\x00ce")) == []
