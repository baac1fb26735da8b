"""The SQLite schema, as numbered migrations applied at start-up (``PRAGMA user_version``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from chatactors.storage import sqlite_search


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _add_search(conn: sqlite3.Connection) -> None:
    """Mentions and the search index (storage/sqlite_search.py), built for what is stored."""
    _run_script(conn, sqlite_search.SCHEMA)
    sqlite_search.build_index(conn)


#: Append only: each entry moves the schema from version N to N + 1 (SQL, or a function that
#: runs in the migration's transaction).
MIGRATIONS: tuple[str | Callable[[sqlite3.Connection], None], ...] = (
    """
    CREATE TABLE chats (
        id TEXT PRIMARY KEY,
        created_ms INTEGER NOT NULL,
        last_seq INTEGER NOT NULL DEFAULT 0,
        last_activity_ms INTEGER NOT NULL
    );
    CREATE TABLE participants (
        chat_id TEXT NOT NULL REFERENCES chats (id),
        user_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (chat_id, user_id)
    ) WITHOUT ROWID;
    CREATE INDEX participants_by_user ON participants (user_id, chat_id);
    CREATE TABLE messages (
        id TEXT NOT NULL UNIQUE,
        chat_id TEXT NOT NULL REFERENCES chats (id),
        seq INTEGER NOT NULL,
        user_id TEXT NOT NULL,
        type TEXT NOT NULL,
        content TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        client_message_id TEXT,
        UNIQUE (chat_id, seq)
    );
    CREATE TABLE read_marks (
        chat_id TEXT NOT NULL REFERENCES chats (id),
        user_id TEXT NOT NULL,
        message_id TEXT,
        seq INTEGER NOT NULL,
        PRIMARY KEY (chat_id, user_id)
    ) WITHOUT ROWID;
    CREATE TABLE last_seen (
        chat_id TEXT NOT NULL REFERENCES chats (id),
        user_id TEXT NOT NULL,
        seen_ms INTEGER NOT NULL,
        PRIMARY KEY (chat_id, user_id)
    ) WITHOUT ROWID;
    """,
    # Fencing: the token of the chat's current owner (see ``store``).
    """
    ALTER TABLE chats ADD COLUMN owner_token INTEGER NOT NULL DEFAULT 0;
    """,
    # The chat's log: every message and every change to one has a position (``pos``). Rows
    # from before keep a NULL pos, read as their seq (nothing had changed then), so that this
    # migration rewrites no message.
    """
    ALTER TABLE chats ADD COLUMN last_pos INTEGER NOT NULL DEFAULT 0;
    UPDATE chats SET last_pos = last_seq;
    ALTER TABLE messages ADD COLUMN pos INTEGER;
    ALTER TABLE messages ADD COLUMN reply_to TEXT;
    ALTER TABLE messages ADD COLUMN edited_ms INTEGER;
    ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN reactions TEXT;
    CREATE TABLE message_changes (
        chat_id TEXT NOT NULL REFERENCES chats (id),
        pos INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        PRIMARY KEY (chat_id, pos)
    ) WITHOUT ROWID;
    """,
    # Chats that change: a title, a kind (a one-to-one chat gains no members), a creator, and
    # system messages (the log entries of those changes). A chat from before of exactly two
    # people is one-to-one, and was created by its first participant.
    """
    ALTER TABLE chats ADD COLUMN title TEXT;
    ALTER TABLE chats ADD COLUMN kind TEXT NOT NULL DEFAULT 'group';
    ALTER TABLE chats ADD COLUMN created_by TEXT;
    ALTER TABLE messages ADD COLUMN system TEXT;
    UPDATE chats SET kind = 'direct' WHERE (
        SELECT count(*) FROM participants p
        WHERE p.chat_id = chats.id AND p.user_id != 'bot_user'
    ) = 2;
    UPDATE chats SET created_by = (
        SELECT p.user_id FROM participants p WHERE p.chat_id = chats.id
        ORDER BY p.position LIMIT 1
    );
    """,
    _add_search,
)


def refuse_newer(version: int, newest: int) -> None:
    """A database migrated by a newer server must not be touched by this one."""
    if version > newest:
        raise RuntimeError(
            f"the database has schema version {version}, newer than this server's "
            f"{newest}: upgrade chatactors"
        )


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to the newest version; returns that version."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    refuse_newer(version, len(MIGRATIONS))
    for number in range(version, len(MIGRATIONS)):
        conn.execute("BEGIN IMMEDIATE")
        try:
            migration = MIGRATIONS[number]
            if isinstance(migration, str):
                _run_script(conn, migration)
            else:
                migration(conn)
            conn.execute(f"PRAGMA user_version = {number + 1}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return len(MIGRATIONS)
