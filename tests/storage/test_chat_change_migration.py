"""Databases made before chats could change (schema 3 of SQLite, 2 of PostgreSQL) open, keep
their chats, and take titles and members.

Policy: real files and a real PostgreSQL. The SQLite database is a fixture made by chatactors at
main 4d6a529 (schema version 3; fixtures/README.md says how); the PostgreSQL one is built by that
version's migrations and filled with its own SQL, then opened by today's store. The real clock
with ``trio.fail_after``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import attrs
import psycopg
import trio

from chatactors.domain.ids import BOT_USER, ChatId, MessageId, UserId
from chatactors.domain.models import ChatChange, ChatChangeKind, ChatKind, Message, MessageType
from chatactors.storage.pg_schema import MIGRATIONS as PG_MIGRATIONS
from chatactors.storage.postgres import open_postgres_store
from chatactors.storage.sqlite import open_sqlite_store
from chatactors.storage.store import ChatStore, ChatUpdate, MessagePage

from .factories import at

TIMEOUT_S = 30
FIXTURE = Path(__file__).parent / "fixtures" / "main-schema-v3.sqlite3"
DIRECT, GROUP, SOLO = ChatId("chat-direct"), ChatId("chat-group"), ChatId("chat-solo")
ALICE, BOB, CAROL, DAVE, ERIN = (UserId(u) for u in ("alice", "bob", "carol", "dave", "erin"))


async def _check_old_chats_then_change_one(store: ChatStore) -> None:
    """What the fixture holds (fixtures/README.md), read through today's store: two people
    make a one-to-one chat, more (or fewer) a group; the first participant created each; no
    title. Then carol's group takes a title and loses erin."""
    direct = await store.load_chat(DIRECT, window=10, idempotency_window=10)
    group = await store.load_chat(GROUP, window=10, idempotency_window=10)
    solo = await store.load_chat(SOLO, window=10, idempotency_window=10)
    assert direct is not None
    assert group is not None
    assert solo is not None
    assert (direct.chat.kind, group.chat.kind, solo.chat.kind) == (
        ChatKind.DIRECT, ChatKind.GROUP, ChatKind.GROUP,
    )  # fmt: skip
    assert (direct.chat.created_by, group.chat.created_by, solo.chat.created_by) == (
        ALICE, CAROL, UserId("frank"),
    )  # fmt: skip
    assert (direct.chat.title, group.chat.title, solo.chat.title) == (None, None, None)
    assert direct.chat.participants == (ALICE, BOB, BOT_USER)
    assert [(m.seq, m.pos, m.content) for m in direct.recent] == [
        (1, 1, "hi bob"), (2, 2, "hi alice!"), (3, 4, "how are you"),
    ]  # fmt: skip
    assert all(m.system is None for m in direct.recent)
    assert direct.read_marks[BOB].seq == 1
    assert group.last_seen[DAVE] == at(5000)
    [bobs] = await store.list_user_chats(BOB, limit=10)
    assert (bobs.chat.id, bobs.unread_count) == (DIRECT, 1)

    change = ChatChange(ChatChangeKind.MEMBER_REMOVED, CAROL, (ERIN,))
    message = Message(MessageId("after-upgrade"), GROUP, 4, CAROL, MessageType.TEXT,
                      "carol removed erin", at(9000), pos=4, system=change)  # fmt: skip
    changed = attrs.evolve(group.chat, participants=(CAROL, DAVE, BOT_USER), title="Two left")
    await store.update_chat(ChatUpdate(changed, message), owner=group.owner_token)
    assert await store.list_user_chats(ERIN, limit=10) == []
    reloaded = await store.load_chat(GROUP, window=10, idempotency_window=10)
    assert reloaded is not None
    assert reloaded.chat == changed
    assert (await store.read_messages(GROUP, MessagePage(limit=10)))[-1] == message


async def test_a_sqlite_database_made_before_chats_changed_opens_and_keeps_them(
    tmp_path: Path,
) -> None:
    shutil.copy(FIXTURE, tmp_path / "chatactors.sqlite3")
    with trio.fail_after(TIMEOUT_S):
        async with open_sqlite_store(tmp_path) as store:
            await _check_old_chats_then_change_one(store)
            assert [c.id for c in await store.list_chats(limit=10)] == [DIRECT, GROUP, SOLO]
        async with open_sqlite_store(tmp_path) as store:  # and again, migrated already
            loaded = await store.load_chat(GROUP, window=10, idempotency_window=10)
    assert loaded is not None
    assert loaded.chat.title == "Two left"


#: What schema version 2 wrote, in that version's own SQL (postgres.py at main 4d6a529).
_V2_ROWS = """
INSERT INTO chats (id, created_ms, last_seq, last_activity_ms, owner_token, last_pos) VALUES
    ('chat-direct', 1795469356414, 3, 1795469359414, 1, 4),
    ('chat-group', 1795469356414, 3, 1795469359414, 1, 3),
    ('chat-solo', 1795469356414, 0, 1795469356414, 1, 0);
INSERT INTO participants (chat_id, user_id, position) VALUES
    ('chat-direct', 'alice', 0), ('chat-direct', 'bob', 1), ('chat-direct', 'bot_user', 2),
    ('chat-group', 'carol', 0), ('chat-group', 'dave', 1), ('chat-group', 'erin', 2),
    ('chat-group', 'bot_user', 3), ('chat-solo', 'frank', 0), ('chat-solo', 'bot_user', 1);
INSERT INTO messages (chat_id, seq, id, user_id, type, content, created_ms, client_message_id,
                      pos, edited_ms) VALUES
    ('chat-direct', 1, 'chat-direct-m1', 'alice', 'text', convert_to('hi bob', 'UTF8'),
     1795469357414, convert_to('c-1', 'UTF8'), 1, NULL),
    ('chat-direct', 2, 'chat-direct-m2', 'bob', 'text', convert_to('hi alice!', 'UTF8'),
     1795469358414, NULL, 2, 1795469358914),
    ('chat-direct', 3, 'chat-direct-m3', 'alice', 'text', convert_to('how are you', 'UTF8'),
     1795469359414, NULL, 4, NULL),
    ('chat-group', 1, 'chat-group-m1', 'carol', 'text', convert_to('group 1', 'UTF8'),
     1795469357414, NULL, 1, NULL),
    ('chat-group', 2, 'chat-group-m2', 'dave', 'text', convert_to('group 2', 'UTF8'),
     1795469358414, NULL, 2, NULL),
    ('chat-group', 3, 'chat-group-m3', 'erin', 'text', convert_to('group 3', 'UTF8'),
     1795469359414, NULL, 3, NULL);
INSERT INTO message_changes (chat_id, pos, seq, last_seq, kind)
    VALUES ('chat-direct', 3, 2, 2, 'edited');
INSERT INTO read_marks (chat_id, user_id, message_id, seq)
    VALUES ('chat-direct', 'bob', 'chat-direct-m1', 1);
INSERT INTO last_seen (chat_id, user_id, seen_ms) VALUES ('chat-group', 'dave', 1795469361414);
"""


async def test_a_postgres_database_made_before_chats_changed_opens_and_keeps_them(
    database_url: str,
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        for migration in PG_MIGRATIONS[:2]:
            assert isinstance(migration, str)
            conn.execute(migration.encode())
        conn.execute("CREATE TABLE chatactors_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO chatactors_schema (version) VALUES (2)")
        conn.execute(_V2_ROWS.encode())
    with trio.fail_after(TIMEOUT_S):
        async with open_postgres_store(database_url) as store:
            await _check_old_chats_then_change_one(store)
    with psycopg.connect(database_url) as conn:
        (version,) = conn.execute("SELECT version FROM chatactors_schema").fetchone() or (0,)
    assert version == len(PG_MIGRATIONS)
