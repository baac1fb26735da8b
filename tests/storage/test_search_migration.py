"""Data from before search opens with its messages indexed (the migration builds the index,
saying how far it got in the log), and the index then follows every change.

Policy: the SQLite fixture made at main 62cbbd7 (schema version 2; fixtures/README.md) and a
PostgreSQL database filled by schema version 1's own SQL (as ``test_log_migration``); for the
version just before search (SQLite 4, PostgreSQL 3, with system messages), each engine's own
migrations up to it and rows in its SQL. The real clock with ``trio.fail_after``.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from pathlib import Path

import attrs
import psycopg
import pytest
import trio

from chatactors.domain.ids import UserId
from chatactors.domain.models import ChangeKind
from chatactors.domain.search_query import parse_query
from chatactors.storage.migrations import MIGRATIONS
from chatactors.storage.pg_schema import MIGRATIONS as PG_MIGRATIONS
from chatactors.storage.postgres import open_postgres_store
from chatactors.storage.search import SearchRequest
from chatactors.storage.sqlite import open_sqlite_store
from chatactors.storage.store import ChatStore, MessageChange

from .test_log_migration import CHAT, FIXTURE, make_version_1

TIMEOUT_S = 30


async def _found(store: ChatStore, q: str) -> list[str]:
    page = await store.search(SearchRequest(UserId("alice"), parse_query(q), 10))
    return [m.id for m in page.messages]


async def _check_the_old_messages_are_searchable(store: ChatStore) -> None:
    assert await _found(store, "hello main") == ["main-m4", "main-m2", "main-m1"]
    assert await _found(store, "HELLO 2") == ["main-m2"]
    loaded = await store.load_chat(CHAT, window=10, idempotency_window=10)
    assert loaded is not None
    old = loaded.recent[1]
    assert old.mentions == ()  # mentions are found when a message is sent or edited
    edited = attrs.evolve(old, content="goodbye @bob", mentions=(UserId("bob"),))
    change = MessageChange(edited, loaded.last_pos + 1, ChangeKind.EDITED, loaded.last_seq)
    await store.change_message(change, owner=loaded.owner_token)
    assert await _found(store, "hello main") == ["main-m4", "main-m1"]
    assert await _found(store, "goodbye") == ["main-m2"]
    (summary,) = await store.list_user_chats(UserId("bob"), limit=10)
    assert summary.unread_mentions == 0  # bob read up to seq 3


def _progress(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "search index" in r.getMessage()]


async def test_a_sqlite_database_from_before_search_is_indexed_when_opened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.copy(FIXTURE, tmp_path / "chatactors.sqlite3")
    caplog.set_level(logging.INFO, logger="chatactors.storage")
    with trio.fail_after(TIMEOUT_S):
        async with open_sqlite_store(tmp_path) as store:
            await _check_the_old_messages_are_searchable(store)
    assert _progress(caplog)[:2] == [
        "building the search index of 5 messages",
        _progress(caplog)[1],
    ]
    assert _progress(caplog)[1].startswith("search index: 5 of 5 messages (100 %")


async def test_a_postgres_database_from_before_search_is_indexed_when_opened(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    make_version_1(database_url)
    caplog.set_level(logging.INFO, logger="chatactors.storage")
    with trio.fail_after(TIMEOUT_S):
        async with open_postgres_store(database_url) as store:
            await _check_the_old_messages_are_searchable(store)
    assert "building the search index of 5 messages" in _progress(caplog)
    assert any(line.startswith("search index: 5 of 5 messages") for line in _progress(caplog))


#: Before search, after chats could change (SQLite schema 4, PostgreSQL 3): a chat named and
#: grown, each change a system message (``{content}`` is how each engine writes text).
_V4_ROWS = """
INSERT INTO chats (id, created_ms, last_seq, last_activity_ms, last_pos, title, kind, created_by)
    VALUES ('chat-4', 0, 3, 30, 3, 'Friday lunch', 'group', 'alice');
INSERT INTO participants (chat_id, user_id, position) VALUES
    ('chat-4', 'alice', 0), ('chat-4', 'bob', 1), ('chat-4', 'carol', 2),
    ('chat-4', 'bot_user', 3);
INSERT INTO messages (id, chat_id, seq, user_id, type, content, created_ms, pos, system) VALUES
    ('m-1', 'chat-4', 1, 'bob', 'text', {lunch}, 10, 1, NULL),
    ('m-2', 'chat-4', 2, 'alice', 'text', {named}, 20, 2,
     '{{"kind": "title_changed", "by": "alice", "users": [], "title": "Friday lunch"}}'),
    ('m-3', 'chat-4', 3, 'alice', 'text', {added}, 30, 3,
     '{{"kind": "members_added", "by": "alice", "users": ["carol"], "title": null}}');
"""
_V4_TEXTS = {"lunch": "lunch on friday?", "named": "alice named the chat \u201cFriday lunch\u201d",
             "added": "alice added carol"}  # fmt: skip


async def _check_only_the_ordinary_message_is_found(store: ChatStore) -> None:
    for q in ("friday", "lunch", "carol", "named", "added", "alice"):
        page = await store.search(SearchRequest(UserId("carol"), parse_query(q), 10))
        expected = ["m-1"] if q in ("friday", "lunch") else []
        assert [m.id for m in page.messages] == expected, q


async def test_a_sqlite_database_with_system_messages_indexes_none_of_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    conn = sqlite3.connect(tmp_path / "chatactors.sqlite3", isolation_level=None)
    for migration in MIGRATIONS[:4]:
        assert isinstance(migration, str)
        conn.executescript(migration)
    texts = {key: "'" + text + "'" for key, text in _V4_TEXTS.items()}
    conn.executescript(_V4_ROWS.format(**texts))
    conn.execute("PRAGMA user_version = 4")
    conn.close()
    caplog.set_level(logging.INFO, logger="chatactors.storage")
    with trio.fail_after(TIMEOUT_S):
        async with open_sqlite_store(tmp_path) as store:
            await _check_only_the_ordinary_message_is_found(store)
    assert "building the search index of 1 messages" in _progress(caplog)


async def test_a_postgres_database_with_system_messages_indexes_none_of_them(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        for migration in PG_MIGRATIONS[:3]:
            assert isinstance(migration, str)
            conn.execute(migration.encode())
        conn.execute("CREATE TABLE chatactors_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO chatactors_schema (version) VALUES (3)")
        texts = {key: f"convert_to('{text}', 'UTF8')" for key, text in _V4_TEXTS.items()}
        conn.execute(_V4_ROWS.format(**texts).encode())
    caplog.set_level(logging.INFO, logger="chatactors.storage")
    with trio.fail_after(TIMEOUT_S):
        async with open_postgres_store(database_url) as store:
            await _check_only_the_ordinary_message_is_found(store)
    assert "building the search index of 1 messages" in _progress(caplog)
