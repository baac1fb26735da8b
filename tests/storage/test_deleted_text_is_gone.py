"""Delete means gone: once the store is closed, a deleted message's text is in no file of the
SQLite data directory (the table's pages, the write-ahead log, free pages); on PostgreSQL the
row holds it no more.

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
