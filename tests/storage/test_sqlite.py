"""SqliteStore alone: migrations, group commit, failed commits, and a file that outlives the store.

Policy: a real SQLite file in ``tmp_path``; the real clock with ``trio.fail_after`` (worker
threads would make the autojump clock jump). Faults are injected by wrapping the writer's
connection, never by sleeping or racing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from chatactors.domain.errors import StoreUnavailable
from chatactors.domain.ids import ChatId, UserId
from chatactors.domain.models import Message, ReadMark
from chatactors.domain.search_query import parse_query
from chatactors.storage.migrations import MIGRATIONS, migrate
from chatactors.storage.search import SearchRequest
from chatactors.storage.sqlite import SqliteStore, open_sqlite_store
from chatactors.storage.store import MessagePage

from .factories import at, make_chat, make_message

TIMEOUT_S = 20
DB_NAME = "chatactors.sqlite3"


async def _append(store: SqliteStore, message: Message) -> None:
    await store.append_message(message, owner=0)


def _user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        return int(version)
    finally:
        conn.close()


async def test_fresh_database_gets_the_newest_schema_version(tmp_path: Path) -> None:
    with trio.fail_after(TIMEOUT_S):
        async with open_sqlite_store(tmp_path / "nested" / "dir") as store:
            await store.check_ready()
    assert _user_version(tmp_path / "nested" / "dir" / DB_NAME) == len(MIGRATIONS)


async def test_reopening_a_current_database_keeps_its_version_and_data(tmp_path: Path) -> None:
    chat = make_chat("c1", "alice", "bob")
    with trio.fail_after(TIMEOUT_S):
        async with open_sqlite_store(tmp_path) as store:
            await store.create_chat(chat)
        async with open_sqlite_store(tmp_path) as store:
            assert await store.list_chats(limit=10) == [chat]
    assert _user_version(tmp_path / DB_NAME) == len(MIGRATIONS)


def test_migrate_returns_the_newest_version_and_is_idempotent() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        assert migrate(conn) == len(MIGRATIONS)
        assert migrate(conn) == len(MIGRATIONS)
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()
    assert {"chats", "participants", "messages", "read_marks", "last_seen"} <= tables


async def test_database_with_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / DB_NAME
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with trio.fail_after(TIMEOUT_S), pytest.raises(RuntimeError, match="newer than this server"):
        async with open_sqlite_store(tmp_path):
            pass  # pragma: no cover
    # Refusing must not have touched the file.
    assert _user_version(path) == len(MIGRATIONS) + 1


async def test_batch_max_one_commits_every_write_alone(tmp_path: Path) -> None:
    chat = make_chat("c1", "alice", "bob")
    with trio.fail_after(TIMEOUT_S):
        async with open_sqlite_store(tmp_path, batch_max=1) as store:
            await store.create_chat(chat)
            async with trio.open_nursery() as nursery:
                for seq in range(1, 21):
                    nursery.start_soon(_append, store, make_message(chat, seq, "bob"))
            commits = store.statistics()
            assert commits.batches_committed == commits.writes_committed == 21


async def test_failed_write_fails_its_caller_and_the_writer_keeps_going(tmp_path: Path) -> None:
    chat = make_chat("c1", "alice", "bob")
    first = make_message(chat, 1, "alice")
    with trio.fail_after(TIMEOUT_S):
        async with open_sqlite_store(tmp_path) as store:
            await store.create_chat(chat)
            await store.append_message(first, owner=0)
            # The same seq again violates UNIQUE (chat_id, seq).
            with pytest.raises(sqlite3.IntegrityError):
                await store.append_message(make_message(chat, 1, "bob"), owner=0)
            # A message for a chat that does not exist violates the foreign key.
            with pytest.raises(sqlite3.IntegrityError):
                await store.append_message(make_message(make_chat("ghost", "x"), 1, "x"), owner=0)
            second = make_message(chat, 2, "bob")
            await store.append_message(second, owner=0)
            assert await store.read_messages(chat.id, MessagePage(limit=10)) == [first, second]


async def test_failed_write_does_not_fail_other_writes_in_its_batch(tmp_path: Path) -> None:
    """One bad write (a bug in one chat) must not fail the innocent writes it was batched with."""
    chat = make_chat("c1", "alice", "bob")
    results: dict[str, BaseException | None] = {}

    async def append(name: str, message: Any) -> None:
        try:
            await store.append_message(message, owner=0)
        except sqlite3.Error as error:
            results[name] = error
        else:
            results[name] = None

    good = [make_message(chat, seq, "alice") for seq in range(2, 6)]
    with trio.fail_after(TIMEOUT_S):
        async with open_sqlite_store(tmp_path) as store:
            await store.create_chat(chat)
            await store.append_message(make_message(chat, 1, "alice"), owner=0)
            async with trio.open_nursery() as nursery:
                # Started together, so they are queued before the writer wakes: one batch.
                nursery.start_soon(append, "bad", make_message(chat, 1, "bob"))
                for message in good:
                    nursery.start_soon(append, f"good{message.seq}", message)
            # They did share one transaction, which failed and was split.
            assert store.statistics().batches_split == 1
            stored = await store.read_messages(chat.id, MessagePage(limit=10))
    assert isinstance(results.pop("bad"), sqlite3.IntegrityError)
    assert results == {f"good{m.seq}": None for m in good}
    assert [m.seq for m in stored] == [1, 2, 3, 4, 5]


class _FailingCommitConnection:
    """Wraps the writer's connection; its next ``COMMIT`` fails the way SQLITE_BUSY does.

    A failed COMMIT leaves the transaction open, exactly as SQLite does when the commit cannot
    take its lock.
    """

    def __init__(self, conn: sqlite3.Connection, failures: int) -> None:
        self._conn = conn
        self.failures = failures

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT" and self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("database is locked")
        return self._conn.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        return self._conn.executemany(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


async def test_failed_commit_fails_its_callers_and_the_next_batch_commits(tmp_path: Path) -> None:
    chat = make_chat("c1", "alice", "bob")
    lost = make_message(chat, 1, "alice")
    with trio.fail_after(TIMEOUT_S):
        async with open_sqlite_store(tmp_path) as store:
            await store.create_chat(chat)
            real = store._write_conn
            store._write_conn = _FailingCommitConnection(real, failures=1)  # type: ignore[assignment]
            try:
                with pytest.raises(StoreUnavailable) as failed:
                    await store.append_message(lost, owner=0)
                assert "locked" in str(failed.value.__cause__)
                assert store.write_failure is not None
                # The failed write must not be committed later with someone else's batch.
                kept = make_message(chat, 1, "bob")
                await store.append_message(kept, owner=0)
                await store.append_message(make_message(chat, 2, "bob"), owner=0)
            finally:
                store._write_conn = real
            assert store.write_failure is None  # a write succeeded since
            stored = await store.read_messages(chat.id, MessagePage(limit=10))
    assert [m.seq for m in stored] == [1, 2]
    assert stored[0].id == kept.id


async def test_reopened_file_has_every_committed_write(tmp_path: Path) -> None:
    chat = make_chat("c1", "alice", "bob", "bot_user", created_ms=3)
    other = make_chat("c2", "bob", "carol", created_ms=4)
    messages = [
        make_message(chat, seq, "alice" if seq % 3 else "bob", client_message_id=f"k{seq}")
        for seq in range(1, 31)
    ]
    alice, bob = UserId("alice"), UserId("bob")
    with trio.fail_after(TIMEOUT_S):
        async with open_sqlite_store(tmp_path) as store:
            await store.create_chat(chat)
            await store.create_chat(other)
            for message in messages:
                # A chat's actor awaits each append, so one chat's writes come in seq order.
                await store.append_message(message, owner=0)
            await store.set_read_mark(chat.id, ReadMark(bob, messages[19].id, 20), owner=0)
            await store.set_last_seen(chat.id, alice, at(12_345), owner=0)
        async with open_sqlite_store(tmp_path) as store:
            chats = await store.list_chats(limit=10)
            loaded = await store.load_chat(chat.id, window=50, idempotency_window=50)
            summaries = await store.list_user_chats(bob, limit=10)
    assert chats == [chat, other]
    assert loaded is not None
    assert list(loaded.recent) == messages
    assert loaded.last_seq == 30
    assert loaded.read_marks == {bob: ReadMark(bob, messages[19].id, 20)}
    assert loaded.last_seen == {alice: at(12_345)}
    assert loaded.client_ids[(alice, "k29")] == messages[28]
    assert [(s.chat.id, s.unread_count) for s in summaries] == [
        (ChatId("c1"), sum(1 for m in messages[20:] if m.user_id != bob)),
        (ChatId("c2"), 0),
    ]


async def test_closing_commits_writes_still_queued(tmp_path: Path) -> None:
    """Leaving the store's context drains the queue: a write sent just before close is kept."""
    chat = make_chat("c1", "alice", "bob")
    messages = [make_message(chat, seq, "alice") for seq in range(1, 101)]
    with trio.fail_after(TIMEOUT_S):
        async with trio.open_nursery() as outer, open_sqlite_store(tmp_path) as store:
            await store.create_chat(chat)
            for message in messages:
                outer.start_soon(_append, store, message)
            # Let every appender queue its write, then close while they wait for commits.
            await trio.testing.wait_all_tasks_blocked()
        async with open_sqlite_store(tmp_path) as store:
            stored = await store.read_messages(chat.id, MessagePage(limit=1000))
    assert stored == messages


async def test_the_search_index_still_matches_its_messages_after_a_vacuum(tmp_path: Path) -> None:
    """The index is keyed by the messages table's rowid, which SQLite keeps through VACUUM
    (it only documents that it may not for tables without an INTEGER PRIMARY KEY): this fails
    if a SQLite version ever renumbers them, and the index would then need rebuilding."""
    chat = make_chat("c1", "alice", "bob")
    other = make_chat("c2", "alice", "bob")
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
    with trio.fail_after(TIMEOUT_S):
        async with open_sqlite_store(tmp_path) as store:
            await store.create_chat(chat)
            await store.create_chat(other)
            for seq, word in enumerate(words, 1):
                await _append(store, make_message(chat if seq % 2 else other, seq, "bob",
                                                  content=f"{word} {seq}"))  # fmt: skip
        await trio.to_thread.run_sync(_vacuum, tmp_path / DB_NAME)
        async with open_sqlite_store(tmp_path) as store:
            found = {
                word: [m.content for m in (await store.search(
                    SearchRequest(UserId("alice"), parse_query(word), 10))).messages]
                for word in words
            }  # fmt: skip
    assert found == {word: [f"{word} {seq}"] for seq, word in enumerate(words, 1)}


def _vacuum(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("VACUUM")
    finally:
        conn.close()
