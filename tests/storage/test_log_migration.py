"""Databases made before the message log open, keep their messages, and take changes.

Policy: real files and a real PostgreSQL. The SQLite database is a fixture made by chatactors at
main 62cbbd7 (schema version 2; fixtures/README.md says how); the PostgreSQL one is built by the
first migration and filled with that version's own SQL, then opened by today's store. The real
clock with ``trio.fail_after``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import attrs
import psycopg
import trio

from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import ChangeKind, MessageType
from chatactors.storage.pg_schema import MIGRATIONS as PG_MIGRATIONS
from chatactors.storage.postgres import open_postgres_store
from chatactors.storage.sqlite import open_sqlite_store
from chatactors.storage.store import ChatStore, LogPage, MessageChange, MessagePage

from .factories import at, make_message

TIMEOUT_S = 30
FIXTURE = Path(__file__).parent / "fixtures" / "main-schema-v2.sqlite3"
CHAT = ChatId("chat-main-1")


async def _check_old_chat_then_change_it(store: ChatStore) -> None:
    """What the fixture holds (chat-main-1: 5 messages, alice's first with client id cm-1;
    bob read up to seq 3), read through today's store, then edited and added to."""
    loaded = await store.load_chat(CHAT, window=10, idempotency_window=10)
    assert loaded is not None
    assert loaded.chat.participants == (UserId("alice"), UserId("bob"), UserId("bot_user"))
    assert (loaded.last_seq, loaded.last_pos) == (5, 5)
    messages = list(loaded.recent)
    assert [m.seq for m in messages] == [1, 2, 3, 4, 5]
    assert [m.pos for m in messages] == [1, 2, 3, 4, 5]  # before the log: pos is seq
    assert messages[0].content == "hello 1 from main"
    assert messages[2].type is MessageType.IMAGE
    assert all(not m.deleted and m.reactions == () and m.reply_to is None for m in messages)
    assert all(m.edited_at is None for m in messages)
    assert loaded.client_ids[(UserId("alice"), "cm-1")] == messages[0]
    assert loaded.read_marks[UserId("bob")].seq == 3
    assert await store.read_messages(CHAT, MessagePage(limit=10)) == messages
    log = await store.read_log(CHAT, LogPage(2, 10))
    assert [entry.message.seq for entry in log] == [3, 4, 5]

    owner = loaded.owner_token
    edited = attrs.evolve(messages[1], content="edited after the upgrade", edited_at=at(7))
    await store.change_message(MessageChange(edited, 6, ChangeKind.EDITED, 5), owner=owner)
    new = attrs.evolve(
        make_message(loaded.chat, 6, "bob", pos=7, reply_to=messages[0].id),
        id=MessageId("after-upgrade"),
    )
    await store.append_message(new, owner=owner)
    log = await store.read_log(CHAT, LogPage(4, 10))
    assert [(entry.message.seq, entry.message.content) for entry in log] == [
        (5, messages[4].content), (2, "edited after the upgrade"), (6, new.content),
    ]  # fmt: skip
    reloaded = await store.load_chat(CHAT, window=10, idempotency_window=10)
    assert reloaded is not None
    assert (reloaded.last_seq, reloaded.last_pos) == (6, 7)


async def test_a_sqlite_database_made_before_the_log_opens_and_keeps_its_messages(
    tmp_path: Path,
) -> None:
    shutil.copy(FIXTURE, tmp_path / "chatactors.sqlite3")
    with trio.fail_after(TIMEOUT_S):
        async with open_sqlite_store(tmp_path) as store:
            await _check_old_chat_then_change_it(store)
            assert [c.id for c in await store.list_chats(limit=10)] == [
                CHAT, ChatId("chat-main-2"),
            ]  # fmt: skip
        async with open_sqlite_store(tmp_path) as store:  # and again, migrated already
            loaded = await store.load_chat(CHAT, window=10, idempotency_window=10)
    assert loaded is not None
    assert loaded.recent[1].content == "edited after the upgrade"


#: What schema version 1 wrote, in that version's own SQL (postgres.py at main 62cbbd7).
_V1_ROWS = """
INSERT INTO chats (id, created_ms, last_seq, last_activity_ms, owner_token)
    VALUES ('chat-main-1', 1795469356414, 5, 1795469361414, 1);
INSERT INTO participants (chat_id, user_id, position)
    VALUES ('chat-main-1', 'alice', 0), ('chat-main-1', 'bob', 1), ('chat-main-1', 'bot_user', 2);
INSERT INTO messages (chat_id, seq, id, user_id, type, content, created_ms, client_message_id)
    VALUES
    ('chat-main-1', 1, 'main-m1', 'alice', 'text', 'hello 1 from main', 1795469357414, 'cm-1'),
    ('chat-main-1', 2, 'main-m2', 'bob', 'text', 'hello 2 from main', 1795469358414, NULL),
    ('chat-main-1', 3, 'main-m3', 'alice', 'image', 'http://localhost:8000/media/m3',
     1795469359414, NULL),
    ('chat-main-1', 4, 'main-m4', 'bob', 'text', 'hello 4 from main', 1795469360414, NULL),
    ('chat-main-1', 5, 'main-m5', 'alice', 'audio', 'http://localhost:8000/media/m5',
     1795469361414, NULL);
INSERT INTO read_marks (chat_id, user_id, message_id, seq)
    VALUES ('chat-main-1', 'bob', 'main-m3', 3);
"""


def make_version_1(database_url: str) -> None:
    """A PostgreSQL database as schema version 1 left it, with its rows."""
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        first = PG_MIGRATIONS[0]
        assert isinstance(first, str)
        conn.execute(first.encode())
        conn.execute("CREATE TABLE chatactors_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO chatactors_schema (version) VALUES (1)")
        # Version 1 stored text as UTF-8 bytes: convert_to gives exactly those.
        conn.execute(
            _V1_ROWS.replace("'hello", "convert_to('hello")
            .replace("from main'", "from main', 'UTF8')")
            .replace("'http:", "convert_to('http:")
            .replace("/m3'", "/m3', 'UTF8')")
            .replace("/m5'", "/m5', 'UTF8')")
            .replace("'cm-1'", "convert_to('cm-1', 'UTF8')")
            .encode()
        )


async def test_a_postgres_database_made_before_the_log_opens_and_keeps_its_messages(
    database_url: str,
) -> None:
    make_version_1(database_url)
    with trio.fail_after(TIMEOUT_S):
        async with open_postgres_store(database_url) as store:
            await _check_old_chat_then_change_it(store)
    with psycopg.connect(database_url) as conn:
        (version,) = conn.execute("SELECT version FROM chatactors_schema").fetchone() or (0,)
    assert version == len(PG_MIGRATIONS)
