"""SqliteStore: the embedded durable store (stdlib sqlite3, WAL) with group commit.

Writes from every chat go to one writer (``group_commit``), which commits them in batches on
its own connection. Reads use several other connections, each in a worker thread, so that the
event loop never blocks on the disk and one long read does not hold up the others.

Every call is bounded by the store's timeout (``thread_calls``: a stalled disk costs a request
no more). A commit counts as sent once its transaction holds the write lock; a failed COMMIT
rolled back (a full disk, a busy database) changed nothing, but one that failed on I/O may have
reached the log, so its outcome is unknown.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import attrs
import trio

from chatactors.domain.clock import from_epoch_ms, to_epoch_ms
from chatactors.domain.errors import OutcomeUnknown, StoreUnavailable
from chatactors.domain.events import LogEvent
from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import ChangeKind, Chat, ChatSummary, Message, ReadMark
from chatactors.storage import sqlite_search
from chatactors.storage.group_commit import (
    AppendMessage,
    ChangeMessage,
    ClaimChat,
    CreateChat,
    GroupCommit,
    GroupCommitWrites,
    SetLastSeen,
    SetReadMark,
    UpdateChat,
    WriteOp,
)
from chatactors.storage.migrations import migrate
from chatactors.storage.search import SearchPage, SearchRequest
from chatactors.storage.sql_rows import (
    MESSAGE_COLUMNS,
    MESSAGE_SELECT,
    chat_from_columns,
    mentions_to_text,
    message_columns,
    message_from_row,
    page_sql,
    reactions_to_text,
    seq_at,
    system_to_text,
)
from chatactors.storage.store import (
    LoadedChat,
    LogPage,
    MessagePage,
    StaleOwner,
    StoreNotAnswering,
    merge_log,
)
from chatactors.storage.thread_calls import Sending, ThreadCalls

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The message columns of a search's rows (the messages table is ``m`` there).
_SEARCH_SELECT = message_columns("m")
#: Longer than a page, so that inserting it needs free space (see ``_probe_write``).
_PROBE_CHAT_ID = "\x00readiness-probe:" + "x" * 8192


def _is_stale(conn: sqlite3.Connection, chat_id: ChatId, owner: int) -> bool:
    row = conn.execute("SELECT owner_token FROM chats WHERE id = ?", (chat_id,)).fetchone()
    return row is not None and owner < row[0]


def _apply(conn: sqlite3.Connection, op: WriteOp) -> object:
    """Apply one write inside the open transaction; its outcome (see ``group_commit``)."""
    match op:
        case CreateChat(chat):
            created_ms = to_epoch_ms(chat.created_at)
            conn.execute(
                "INSERT INTO chats (id, created_ms, last_seq, last_activity_ms, title, kind,"
                " created_by) VALUES (?, ?, 0, ?, ?, ?, ?)",
                (chat.id, created_ms, created_ms, chat.title, chat.kind.value, chat.created_by),
            )
            conn.executemany(
                "INSERT INTO participants (chat_id, user_id, position) VALUES (?, ?, ?)",
                [(chat.id, user, position) for position, user in enumerate(chat.participants)],
            )
        case ClaimChat(chat_id):
            row = conn.execute(
                "UPDATE chats SET owner_token = owner_token + 1 WHERE id = ? RETURNING owner_token",
                (chat_id,),
            ).fetchone()
            return None if row is None else int(row[0])
        case AppendMessage(m, owner):
            created_ms = to_epoch_ms(m.timestamp)
            updated = conn.execute(
                "UPDATE chats SET last_seq = ?, last_pos = ?, last_activity_ms = ? WHERE id = ?"
                " AND owner_token <= ?",
                (m.seq, m.pos, created_ms, m.chat_id, owner),
            ).rowcount
            if not updated and _is_stale(conn, m.chat_id, owner):
                return StaleOwner(m.chat_id, owner)
            _insert_message(conn, m)
        case ChangeMessage(change, owner):
            m = change.message
            updated = conn.execute(
                "UPDATE chats SET last_pos = ? WHERE id = ? AND owner_token <= ?",
                (change.pos, m.chat_id, owner),
            ).rowcount
            if not updated and _is_stale(conn, m.chat_id, owner):
                return StaleOwner(m.chat_id, owner)
            # With secure_delete on, the text a delete (or an edit) replaces is overwritten
            # with zeros in the page, not only unlinked.
            if change.change in (ChangeKind.EDITED, ChangeKind.DELETED):
                sqlite_search.reindex_message(conn, m)  # reads the content it replaces
            edited_ms = None if m.edited_at is None else to_epoch_ms(m.edited_at)
            conn.execute(
                "UPDATE messages SET content = ?, edited_ms = ?, deleted = ?, reactions = ?,"
                " mentions = ? WHERE chat_id = ? AND seq = ?",
                (m.content, edited_ms, int(m.deleted), reactions_to_text(m.reactions),
                 mentions_to_text(m.mentions), m.chat_id, m.seq),
            )  # fmt: skip
            conn.execute(
                "INSERT INTO message_changes (chat_id, pos, seq, last_seq, kind)"
                " VALUES (?, ?, ?, ?, ?)",
                (m.chat_id, change.pos, m.seq, change.last_seq, change.change.value),
            )
        case UpdateChat(update, owner):
            chat, m = update.chat, update.message
            updated = conn.execute(
                "UPDATE chats SET last_seq = ?, last_pos = ?, last_activity_ms = ?, title = ?"
                " WHERE id = ? AND owner_token <= ?",
                (m.seq, m.pos, to_epoch_ms(m.timestamp), chat.title, chat.id, owner),
            ).rowcount
            if not updated and _is_stale(conn, chat.id, owner):
                return StaleOwner(chat.id, owner)
            _insert_message(conn, m)
            # The participants table is the members' record (GET /chats?user_id=, search):
            # the ones gone deleted, the others in their new order.
            members = set(chat.participants)
            stored = [user for (user,) in conn.execute(
                "SELECT user_id FROM participants WHERE chat_id = ?", (chat.id,))]  # fmt: skip
            conn.executemany(
                "DELETE FROM participants WHERE chat_id = ? AND user_id = ?",
                [(chat.id, user) for user in stored if user not in members],
            )
            conn.executemany(
                "INSERT INTO participants (chat_id, user_id, position) VALUES (?, ?, ?)"
                " ON CONFLICT (chat_id, user_id) DO UPDATE SET position = excluded.position",
                [(chat.id, user, position) for position, user in enumerate(chat.participants)],
            )
            for mark in update.read_marks:
                _save_read_mark(conn, chat.id, mark)
        case SetReadMark(chat_id, mark, owner):
            if _is_stale(conn, chat_id, owner):
                return StaleOwner(chat_id, owner)
            _save_read_mark(conn, chat_id, mark)
        case SetLastSeen(chat_id, user_id, seen_ms, owner):
            if _is_stale(conn, chat_id, owner):
                return StaleOwner(chat_id, owner)
            conn.execute(
                "INSERT INTO last_seen (chat_id, user_id, seen_ms) VALUES (?, ?, ?)"
                " ON CONFLICT (chat_id, user_id) DO UPDATE SET seen_ms = excluded.seen_ms",
                (chat_id, user_id, seen_ms),
            )
    return None


def _insert_message(conn: sqlite3.Connection, m: Message) -> None:
    """Store a new message (an ordinary or a system one) and index it for search."""
    rowid = conn.execute(
        f"INSERT INTO messages ({MESSAGE_COLUMNS})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (m.id, m.chat_id, m.seq, m.user_id, m.type.value, m.content, to_epoch_ms(m.timestamp),
         m.client_message_id, m.pos, m.reply_to, mentions_to_text(m.mentions),
         system_to_text(m.system)),
    ).lastrowid  # fmt: skip
    assert rowid is not None
    sqlite_search.index_message(conn, rowid, m)


def _save_read_mark(conn: sqlite3.Connection, chat_id: ChatId, mark: ReadMark) -> None:
    conn.execute(
        "INSERT INTO read_marks (chat_id, user_id, message_id, seq) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (chat_id, user_id) DO UPDATE"
        " SET message_id = excluded.message_id, seq = excluded.seq",
        (chat_id, mark.user_id, mark.message_id, mark.seq),
    )


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    # FULL: a commit survives power loss, not only a killed process. Group commit pays for it.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 5000")
    # A deleted message's text is overwritten in the database file, not left in free space.
    conn.execute("PRAGMA secure_delete = ON")
    return conn


@attrs.define(eq=False)
class _Readers:
    """Read connections, each used by one worker thread at a time, so that a long read (a
    user's chat list, a long replay) never stalls other chats' loads."""

    _idle: list[sqlite3.Connection]
    #: One token per connection; a thread given up on keeps its token and its connection.
    _calls: ThreadCalls

    @property
    def stuck(self) -> int:
        return self._calls.stuck

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def read() -> T:
            # Taken and put back by the thread itself (list operations are atomic), so that a
            # thread given up on is the only one using its connection until it returns.
            conn = self._idle.pop()
            try:
                return fn(conn)
            finally:
                self._idle.append(conn)

        return await self._calls.read(read)


@attrs.define(eq=False)
class SqliteStore(GroupCommitWrites):
    path: Path
    _write_conn: sqlite3.Connection
    _readers: _Readers

    # -- writes -------------------------------------------------------------------------------

    def _commit(self, ops: Sequence[WriteOp], sending: Sending) -> list[object]:
        conn = self._write_conn
        conn.execute("BEGIN IMMEDIATE")  # may wait for another process's write (busy_timeout)
        committing = False
        try:
            sending()
            outcomes = [_apply(conn, op) for op in ops]
            committing = True
            conn.execute("COMMIT")
        except BaseException as error:
            # A failed COMMIT (SQLITE_BUSY, a full disk) can leave the transaction open: roll it
            # back, or every later BEGIN fails and the writer is wedged for good.
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    log.exception("rollback after a failed commit failed")
            if committing and _may_have_committed(error):
                raise OutcomeUnknown() from error
            if isinstance(error, sqlite3.OperationalError):
                # The engine, not the write, failed (disk full, I/O error): the request fails.
                raise StoreUnavailable() from error
            raise
        return outcomes

    # -- reads --------------------------------------------------------------------------------

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return await self._readers.run(fn)
        except sqlite3.OperationalError as error:
            raise StoreUnavailable() from error

    async def load_chat(
        self, chat_id: ChatId, *, window: int, idempotency_window: int
    ) -> LoadedChat | None:
        # Claim first, then read: a stale owner's write can no longer land after this read.
        try:
            token = await self._writer.claim_chat(chat_id)
        except OutcomeUnknown:
            # A claim that landed all the same only fences out the chat's current actor, which
            # then loads the chat again (see ChatActor): the load fails, nothing else.
            raise StoreNotAnswering() from None
        if token is None:
            return None

        def load(conn: sqlite3.Connection) -> LoadedChat | None:
            conn.execute("BEGIN")
            try:
                row = conn.execute(
                    f"SELECT last_seq, last_pos, {_CHAT_COLUMNS} FROM chats WHERE id = ?",
                    (chat_id,),
                ).fetchone()
                if row is None:
                    return None
                last_seq, last_pos = row[:2]
                chat = _chat_from(conn, row[2:])
                recent = [
                    message_from_row(r)
                    for r in conn.execute(
                        f"SELECT {MESSAGE_SELECT} FROM messages WHERE chat_id = ?"
                        " ORDER BY seq DESC LIMIT ?",
                        (chat_id, window),
                    )
                ]
                recent.reverse()
                client_ids = {
                    (m.user_id, m.client_message_id): m
                    for m in map(
                        message_from_row,
                        conn.execute(
                            f"SELECT {MESSAGE_SELECT} FROM messages WHERE chat_id = ?"
                            " AND seq > ? AND client_message_id IS NOT NULL",
                            (chat_id, last_seq - idempotency_window),
                        ),
                    )
                    if m.client_message_id is not None
                }
                marks = {
                    UserId(user): ReadMark(UserId(user), message_id, seq)
                    for user, message_id, seq in conn.execute(
                        "SELECT user_id, message_id, seq FROM read_marks WHERE chat_id = ?",
                        (chat_id,),
                    )
                }
                seen = {
                    UserId(user): from_epoch_ms(ms)
                    for user, ms in conn.execute(
                        "SELECT user_id, seen_ms FROM last_seen WHERE chat_id = ?", (chat_id,)
                    )
                }
            finally:
                conn.execute("COMMIT")
            return LoadedChat(
                chat, tuple(recent), last_seq, marks, seen, client_ids, token, last_pos
            )

        return await self._read(load)

    async def read_messages(self, chat_id: ChatId, page: MessagePage) -> list[Message]:
        def read(conn: sqlite3.Connection) -> list[Message]:
            where, params, forward = page_sql(chat_id, page, "?")
            rows = conn.execute(
                f"SELECT {MESSAGE_SELECT} FROM messages WHERE {where}", params
            ).fetchall()
            messages = [message_from_row(r) for r in rows]
            return messages if forward else messages[::-1]

        return await self._read(read)

    async def find_message(self, chat_id: ChatId, message_id: MessageId) -> Message | None:
        def read(conn: sqlite3.Connection) -> Message | None:
            row = conn.execute(
                f"SELECT {MESSAGE_SELECT} FROM messages WHERE id = ? AND chat_id = ?",
                (message_id, chat_id),
            ).fetchone()
            return None if row is None else message_from_row(row)

        return await self._read(read)

    async def read_log(self, chat_id: ChatId, page: LogPage) -> list[LogEvent]:
        def read(conn: sqlite3.Connection) -> list[LogEvent]:
            conn.execute("BEGIN")
            try:
                last_change = conn.execute(
                    "SELECT pos, last_seq FROM message_changes WHERE chat_id = ? AND pos <= ?"
                    " ORDER BY pos DESC LIMIT 1",
                    (chat_id, page.after_pos),
                ).fetchone()
                messages = [
                    message_from_row(r)
                    for r in conn.execute(
                        f"SELECT {MESSAGE_SELECT} FROM messages WHERE chat_id = ? AND seq > ?"
                        " ORDER BY seq LIMIT ?",
                        (chat_id, seq_at(page.after_pos, last_change), page.limit),
                    )
                ]
                changes = conn.execute(
                    "SELECT pos, seq, kind FROM message_changes WHERE chat_id = ? AND pos > ?"
                    " ORDER BY pos LIMIT ?",
                    (chat_id, page.after_pos, page.limit),
                ).fetchall()
                states = {m.seq: m for m in messages}
                missing = sorted({seq for _, seq, _ in changes} - states.keys())
                for start in range(0, len(missing), 500):
                    chunk = missing[start : start + 500]
                    marks = ", ".join("?" * len(chunk))
                    for r in conn.execute(
                        f"SELECT {MESSAGE_SELECT} FROM messages WHERE chat_id = ?"
                        f" AND seq IN ({marks})",
                        (chat_id, *chunk),
                    ):
                        found = message_from_row(r)
                        states[found.seq] = found
            finally:
                conn.execute("COMMIT")
            return merge_log(messages, changes, states, page)

        return await self._read(read)

    async def list_chats(self, *, limit: int) -> list[Chat]:
        def read(conn: sqlite3.Connection) -> list[Chat]:
            rows = conn.execute(
                f"SELECT {_CHAT_COLUMNS} FROM chats ORDER BY rowid LIMIT ?", (limit,)
            ).fetchall()
            return [_chat_from(conn, row) for row in rows]

        return await self._read(read)

    async def list_user_chats(self, user_id: UserId, *, limit: int) -> list[ChatSummary]:
        def read(conn: sqlite3.Connection) -> list[ChatSummary]:
            conn.execute("BEGIN")
            try:
                rows = conn.execute(
                    "SELECT c.last_seq, c.last_activity_ms, c.id, c.created_ms, c.title, c.kind,"
                    " c.created_by FROM participants p JOIN chats c ON c.id = p.chat_id"
                    " WHERE p.user_id = ?"
                    " ORDER BY c.last_activity_ms DESC, c.rowid DESC LIMIT ?",
                    (user_id, limit),
                ).fetchall()
                summaries = []
                for last_seq, activity_ms, *chat_row in rows:
                    chat_id = chat_row[0]
                    last_row = conn.execute(
                        f"SELECT {MESSAGE_SELECT} FROM messages WHERE chat_id = ? AND seq = ?",
                        (chat_id, last_seq),
                    ).fetchone()
                    mark = conn.execute(
                        "SELECT seq FROM read_marks WHERE chat_id = ? AND user_id = ?",
                        (chat_id, user_id),
                    ).fetchone()
                    (unread,) = conn.execute(
                        "SELECT count(*) FROM messages WHERE chat_id = ? AND seq > ?"
                        " AND user_id != ?",
                        (chat_id, mark[0] if mark else 0, user_id),
                    ).fetchone()
                    (mentioned,) = conn.execute(
                        "SELECT count(*) FROM mentions WHERE chat_id = ? AND user_id = ?"
                        " AND seq > ?",
                        (chat_id, user_id, mark[0] if mark else 0),
                    ).fetchone()
                    summaries.append(
                        ChatSummary(
                            chat=_chat_from(conn, chat_row),
                            last_message=message_from_row(last_row) if last_row else None,
                            unread_count=unread,
                            last_activity=from_epoch_ms(activity_ms),
                            unread_mentions=mentioned,
                        )
                    )
            finally:
                conn.execute("COMMIT")
            return summaries

        return await self._read(read)

    async def search(self, request: SearchRequest) -> SearchPage:
        def read(conn: sqlite3.Connection) -> SearchPage:
            conn.execute("BEGIN")
            try:
                return sqlite_search.search(conn, request, _SEARCH_SELECT, message_from_row)
            finally:
                conn.execute("COMMIT")

        return await self._read(read)

    async def check_ready(self) -> None:
        """Raise while writes fail, unless a probe write now succeeds; and if reads fail."""
        if self._readers.stuck or self._writer.stuck:
            raise StoreNotAnswering()  # at once: asking again would only wait the same way
        await self._read(lambda conn: conn.execute("SELECT 1").fetchone())
        if self.write_failure is not None:
            try:
                await self._writer.probe(self._probe_write)
            except sqlite3.OperationalError as error:
                raise StoreUnavailable(f"writes fail: {error}") from error

    def _probe_write(self) -> None:
        """Commit a write that needs new pages (a row larger than a page), then remove it."""
        conn = self._write_conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "INSERT INTO chats (id, created_ms, last_seq, last_activity_ms)"
                " VALUES (?, 0, 0, 0)",
                (_PROBE_CHAT_ID,),
            )
            conn.execute("DELETE FROM chats WHERE id = ?", (_PROBE_CHAT_ID,))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def _may_have_committed(error: BaseException) -> bool:
    """A COMMIT that failed on I/O may have written its log frames, and a later open of the
    database may find them complete; any other failure (full, busy) left nothing behind."""
    code = getattr(error, "sqlite_errorcode", None)
    return (
        isinstance(error, sqlite3.Error)
        and code is not None
        and code & 0xFF == sqlite3.SQLITE_IOERR
    )


#: A chat row's columns, in the order :func:`_chat_from` reads them.
_CHAT_COLUMNS = "id, created_ms, title, kind, created_by"


def _chat_from(conn: sqlite3.Connection, row: Sequence[Any]) -> Chat:
    """The chat of a row of :data:`_CHAT_COLUMNS`, with its participants in order."""
    chat_id, created_ms, title, kind, created_by = row
    participants = [
        user
        for (user,) in conn.execute(
            "SELECT user_id FROM participants WHERE chat_id = ? ORDER BY position", (chat_id,)
        )
    ]
    return chat_from_columns(chat_id, participants, created_ms, title, kind, created_by)


@asynccontextmanager
async def open_sqlite_store(
    data_dir: Path,
    *,
    batch_max: int = 512,
    queue_size: int = 2048,
    readers: int = 4,
    timeout_s: float = 5.0,
) -> AsyncIterator[SqliteStore]:
    """Open (and migrate) ``data_dir/chatactors.sqlite3``; on exit, commit what is queued, close.

    ``batch_max``: writes per commit at most; ``queue_size``: writes waiting for the writer;
    ``readers``: read connections (each read holds one in a worker thread); ``timeout_s``: the
    longest a call (a commit, a read) may take (0: no bound).
    """
    path = data_dir / "chatactors.sqlite3"

    def open_connections() -> list[sqlite3.Connection]:
        data_dir.mkdir(parents=True, exist_ok=True)
        write_conn = _connect(path)
        migrate(write_conn)
        # A server that stopped without closing the store left removed words in the index.
        sqlite_search.purge_index(write_conn)
        return [write_conn, *(_connect(path) for _ in range(max(1, readers)))]

    connections = await trio.to_thread.run_sync(open_connections)
    write_conn, read_conns = connections[0], connections[1:]
    store: SqliteStore | None = None

    def commit(ops: Sequence[WriteOp], sending: Sending) -> list[object]:
        assert store is not None
        return store._commit(ops, sending)

    writer = GroupCommit.open(commit, batch_max, queue_size, timeout_s)
    readers_pool = _Readers(
        read_conns, ThreadCalls(trio.CapacityLimiter(len(read_conns)), timeout_s)
    )
    store = SqliteStore(writer, path, write_conn, readers_pool)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(writer.run)
            try:
                yield store
            finally:
                # Closing lets the writer drain every queued write, then stop.
                await writer.close()
    finally:
        _close(write_conn, read_conns)


def _close(write_conn: sqlite3.Connection, read_conns: list[sqlite3.Connection]) -> None:
    """Close every connection, the search index merged and the log emptied first: the index
    keeps removed words in older segments until merged (storage/sqlite_search.py), and the
    write-ahead log holds every page as written, deleted messages' text included, until a
    checkpoint copies it back and truncates it. (SQLite also removes the log when its last
    connection closes, but only if it can.)"""
    for conn in read_conns:
        conn.close()
    try:
        sqlite_search.purge_index(write_conn)
    except sqlite3.Error as error:
        log.warning("the search index was not merged at close: %s", error)
    try:
        write_conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as error:
        log.warning("the write-ahead log was not emptied at close: %s", error)
    write_conn.close()
