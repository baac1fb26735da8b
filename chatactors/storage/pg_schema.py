"""The PostgreSQL schema, as numbered migrations applied at start-up under an advisory lock.

Several servers may start at once against one database: each takes the same transaction-level
advisory lock before it reads the schema version, so exactly one applies a migration and the
others then find it applied. DDL is transactional in PostgreSQL, so a migration that fails
leaves nothing half done.

Message content and client message ids are ``BYTEA`` (UTF-8): a PostgreSQL ``TEXT`` cannot hold
the NUL character, which a message may contain.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from chatactors.storage import pg_search
from chatactors.storage.migrations import refuse_newer

#: Any fixed 64-bit number; it names "chatactors schema migrations" among advisory locks.
MIGRATION_LOCK = 0x636861746D6967


def _add_search(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Mentions and the search index (storage/pg_search.py), built for what is stored."""
    conn.execute(pg_search.SCHEMA.encode())
    pg_search.build_index(conn)


#: Append only: each entry moves the schema from version N to N + 1 (SQL, or a function that
#: runs in the migration's transaction).
MIGRATIONS: tuple[str | Callable[[psycopg.Connection[tuple[object, ...]]], None], ...] = (
    """
    CREATE TABLE chats (
        id TEXT PRIMARY KEY,
        position BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
        created_ms BIGINT NOT NULL,
        last_seq BIGINT NOT NULL DEFAULT 0,
        last_activity_ms BIGINT NOT NULL,
        owner_token BIGINT NOT NULL DEFAULT 0
    );
    CREATE TABLE participants (
        chat_id TEXT NOT NULL REFERENCES chats (id),
        user_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (chat_id, user_id)
    );
    CREATE INDEX participants_by_user ON participants (user_id, chat_id);
    CREATE TABLE messages (
        chat_id TEXT NOT NULL REFERENCES chats (id),
        seq BIGINT NOT NULL,
        id TEXT NOT NULL UNIQUE,
        user_id TEXT NOT NULL,
        type TEXT NOT NULL,
        content BYTEA NOT NULL,
        created_ms BIGINT NOT NULL,
        client_message_id BYTEA,
        PRIMARY KEY (chat_id, seq)
    );
    CREATE UNIQUE INDEX messages_by_client_id ON messages (chat_id, user_id, client_message_id)
        WHERE client_message_id IS NOT NULL;
    CREATE TABLE read_marks (
        chat_id TEXT NOT NULL REFERENCES chats (id),
        user_id TEXT NOT NULL,
        message_id TEXT,
        seq BIGINT NOT NULL,
        PRIMARY KEY (chat_id, user_id)
    );
    CREATE TABLE last_seen (
        chat_id TEXT NOT NULL REFERENCES chats (id),
        user_id TEXT NOT NULL,
        seen_ms BIGINT NOT NULL,
        PRIMARY KEY (chat_id, user_id)
    );
    """,
    # The chat's log (as SQLite's migration 3): rows from before keep a NULL pos, read as
    # their seq. Adding columns without a volatile default rewrites no row.
    """
    ALTER TABLE chats ADD COLUMN last_pos BIGINT NOT NULL DEFAULT 0;
    UPDATE chats SET last_pos = last_seq;
    ALTER TABLE messages
        ADD COLUMN pos BIGINT,
        ADD COLUMN reply_to TEXT,
        ADD COLUMN edited_ms BIGINT,
        ADD COLUMN deleted BOOLEAN NOT NULL DEFAULT false,
        ADD COLUMN reactions TEXT;
    CREATE TABLE message_changes (
        chat_id TEXT NOT NULL REFERENCES chats (id),
        pos BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        last_seq BIGINT NOT NULL,
        kind TEXT NOT NULL,
        PRIMARY KEY (chat_id, pos)
    );
    """,
    # Chats that change (as SQLite's migration 4): a chat from before of exactly two people
    # is one-to-one, created by its first participant.
    """
    ALTER TABLE chats
        ADD COLUMN title TEXT,
        ADD COLUMN kind TEXT NOT NULL DEFAULT 'group',
        ADD COLUMN created_by TEXT;
    ALTER TABLE messages ADD COLUMN system TEXT;
    UPDATE chats c SET
        kind = CASE WHEN (
            SELECT count(*) FROM participants p
            WHERE p.chat_id = c.id AND p.user_id <> 'bot_user'
        ) = 2 THEN 'direct' ELSE 'group' END,
        created_by = (
            SELECT p.user_id FROM participants p WHERE p.chat_id = c.id
            ORDER BY p.position LIMIT 1
        );
    """,
    _add_search,
)


def migrate(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """Bring the schema to the newest version (in one transaction); returns that version."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS chatactors_schema (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM chatactors_schema").fetchone()
        version = 0 if row is None else int(str(row[0]))
        refuse_newer(version, len(MIGRATIONS))
        for number in range(version, len(MIGRATIONS)):
            migration = MIGRATIONS[number]
            if isinstance(migration, str):
                conn.execute(migration.encode())
            else:
                migration(conn)
        if row is None:
            conn.execute("INSERT INTO chatactors_schema (version) VALUES (%s)", (len(MIGRATIONS),))
        else:
            conn.execute("UPDATE chatactors_schema SET version = %s", (len(MIGRATIONS),))
    return len(MIGRATIONS)
