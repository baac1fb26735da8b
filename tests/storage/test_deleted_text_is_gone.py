"""Delete means gone: once the store is closed, a deleted message's text is in no file of the
SQLite data directory (the table's pages, the search index, the write-ahead log, free pages); on
PostgreSQL the row (its content, its index entry, its mentions) holds it no more. An edit's old
words leave the search index too.

Policy: a real SQLite file and a real PostgreSQL; every file of the data directory is read
whole, bytes, after the store closed. The real clock with ``trio.fail_after``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import attrs
import psycopg
import pytest
import trio

from chatactors.domain.ids import UserId
from chatactors.domain.models import ChangeKind, Chat, Message
from chatactors.storage.postgres import open_postgres_store
from chatactors.storage.sqlite import open_sqlite_store
from chatactors.storage.store import ChatStore, MessageChange

from .factories import make_chat, make_message

TIMEOUT_S = 20
#: Short (inside a page) and long (over several overflow pages of 4 KiB).
SECRETS = ("short-secret-7f3a9", "long-secret-b41c " * 800)


def _files_holding(data_dir: Path, needle: bytes) -> list[str]:
    return sorted(
        path.name for path in data_dir.rglob("*") if path.is_file() and needle in path.read_bytes()
    )


async def _post_then_delete(store: ChatStore, chat: Chat, owner: int) -> list[Message]:
    """Messages around two secrets; the secrets deleted, the others kept."""
    messages = [
        make_message(chat, 1, "alice", content="kept before"),
        make_message(chat, 2, "alice", content=SECRETS[0]),
        make_message(chat, 3, "bob", content=SECRETS[1]),
        make_message(chat, 4, "bob", content="kept after"),
    ]
    for message in messages:
        await store.append_message(message, owner=owner)
    for pos, secret in enumerate(messages[1:3], start=5):
        deleted = attrs.evolve(secret, content="", deleted=True)
        await store.change_message(MessageChange(deleted, pos, ChangeKind.DELETED, 4), owner=owner)
    return messages


@pytest.mark.parametrize("after", ["close", "reopen", "close beside another process"])
async def test_deleted_text_is_in_no_file_of_the_sqlite_data_dir(
    tmp_path: Path, after: str
) -> None:
    chat = make_chat("c1", "alice", "bob")
    other: sqlite3.Connection | None = None
    with trio.fail_after(TIMEOUT_S):
        async with open_sqlite_store(tmp_path) as store:
            await store.create_chat(chat)
            if after == "close beside another process":
                # Another server (a worker) on the same file: SQLite keeps the log file then.
                other = sqlite3.connect(tmp_path / "chatactors.sqlite3")
                other.execute("SELECT count(*) FROM chats").fetchone()
            await _post_then_delete(store, chat, owner=0)
            assert _files_holding(tmp_path, b"long-secret") != []  # in the log, for now
        if after == "reopen":  # a later run of the server finds nothing either
            async with open_sqlite_store(tmp_path) as store:
                await store.check_ready()
    try:
        for secret in SECRETS:
            assert _files_holding(tmp_path, secret[:18].encode()) == []
    finally:
        if other is not None:
            other.close()
    assert _files_holding(tmp_path, b"kept before") == ["chatactors.sqlite3"]
    assert _files_holding(tmp_path, b"kept after") == ["chatactors.sqlite3"]


async def test_a_deleted_message_row_holds_no_text_on_postgres(database_url: str) -> None:
    chat = make_chat("c1", "alice", "bob")
    with trio.fail_after(TIMEOUT_S):
        async with open_postgres_store(database_url) as store:
            await store.create_chat(chat)
            messages = await _post_then_delete(store, chat, owner=0)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT seq, content, deleted FROM messages WHERE chat_id = %s ORDER BY seq",
            (chat.id,),
        ).fetchall()
    assert [(seq, bytes(content), deleted) for seq, content, deleted in rows] == [
        (1, messages[0].content.encode(), False),
        (2, b"", True),
        (3, b"", True),
        (4, messages[3].content.encode(), False),
    ]


#: Words no other text of the test holds: each must leave the search index with its message.
GONE_WORDS = ("zanzibarquux", "plumbobtrix", "oldversionword")
KEPT_WORDS = ("keptwordalpha", "newversionword")


async def _index_then_remove(store: ChatStore, chat: Chat) -> None:
    """Messages whose words are indexed; one deleted, one edited, one kept."""
    messages = [
        make_message(chat, 1, "alice", content=f"{GONE_WORDS[0]} {GONE_WORDS[1]}"),
        make_message(chat, 2, "alice", content=f"an {GONE_WORDS[2]} here"),
        make_message(chat, 3, "bob", content=f"{KEPT_WORDS[0]} stays"),
    ]
    for message in messages:
        await store.append_message(message, owner=0)
    deleted = attrs.evolve(messages[0], content="", deleted=True)
    await store.change_message(MessageChange(deleted, 4, ChangeKind.DELETED, 3), owner=0)
    edited = attrs.evolve(messages[1], content=f"a {KEPT_WORDS[1]} here")
    await store.change_message(MessageChange(edited, 5, ChangeKind.EDITED, 3), owner=0)


@pytest.mark.parametrize("after", ["close", "reopen"])
async def test_removed_words_are_in_no_file_once_the_sqlite_store_closed(
    tmp_path: Path, after: str
) -> None:
    """FTS5 keeps removed tokens in older segments of its index until they are merged: the
    store merges them when it closes (and when it opens, after a server that could not)."""
    chat = make_chat("c1", "alice", "bob")
    with trio.fail_after(TIMEOUT_S):
        async with open_sqlite_store(tmp_path) as store:
            await store.create_chat(chat)
            # Earlier messages, so that the index has segments older than the removals.
            for seq in range(1, 30):
                earlier = make_message(chat, seq, "bob", content=f"w{seq}")
                await store.append_message(earlier, owner=0)
            other = make_chat("c2", "alice", "bob")
            await store.create_chat(other)
            await _index_then_remove(store, other)
            index = await trio.to_thread.run_sync(_index_blocks, store.path)
            assert any(GONE_WORDS[0].encode() in block for block in index)  # still in a segment
        if after == "reopen":
            async with open_sqlite_store(tmp_path) as store:
                await store.check_ready()
    for word in GONE_WORDS:
        assert _files_holding(tmp_path, word.encode()) == []
    for word in KEPT_WORDS:
        assert _files_holding(tmp_path, word.encode()) == ["chatactors.sqlite3"]


def _index_blocks(path: Path) -> list[bytes]:
    with sqlite3.connect(path) as conn:
        return [bytes(block) for (block,) in conn.execute("SELECT block FROM message_search_data")]


async def test_a_deleted_message_leaves_no_index_entry_nor_mentions_on_postgres(
    database_url: str,
) -> None:
    chat = make_chat("c1", "alice", "bob")
    with trio.fail_after(TIMEOUT_S):
        async with open_postgres_store(database_url) as store:
            await store.create_chat(chat)
            await _index_then_remove(store, chat)
            first = attrs.evolve(make_message(chat, 4, "bob", content="@alice hi"), pos=6)
            await store.append_message(attrs.evolve(first, mentions=(UserId("alice"),)), owner=0)
            gone = attrs.evolve(first, content="", deleted=True)
            await store.change_message(MessageChange(gone, 7, ChangeKind.DELETED, 4), owner=0)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT seq, search::text FROM messages WHERE chat_id = %s ORDER BY seq", (chat.id,)
        ).fetchall()
        mentions = conn.execute("SELECT count(*) FROM mentions").fetchone()
    assert rows == [
        (1, None),
        (2, "'a':1 'here':3 'newversionword':2"),
        (3, "'keptwordalpha':1 'stays':2"),
        (4, None),
    ]
    assert mentions == (0,)
