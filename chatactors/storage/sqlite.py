"""SqliteStore: the embedded durable store (stdlib sqlite3, WAL) with group commit.

Writes from every chat go to one writer task. It takes whatever writes are queued (up to a
batch limit), commits them in one transaction in a worker thread, and only then wakes their
callers: under load, one fsync covers many messages. Reads use a second connection, also in a
worker thread, so that the event loop never blocks on the disk.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import attrs
import trio

from chatactors.domain.clock import from_epoch_ms, to_epoch_ms
from chatactors.domain.errors import StoreUnavailable
from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import Chat, ChatSummary, Message, MessageType, ReadMark
from chatactors.storage.migrations import migrate
from chatactors.storage.store import LoadedChat, MessagePage

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Longer than a page, so that inserting it needs free space (see ``_probe_write``).
_PROBE_CHAT_ID = "\x00readiness-probe:" + "x" * 8192

_MESSAGE_COLUMNS = "id, chat_id, seq, user_id, type, content, created_ms, client_message_id"


@attrs.frozen
class _CreateChat:
    chat: Chat


@attrs.frozen
class _AppendMessage:
    message: Message


@attrs.frozen
class _SetReadMark:
    chat_id: ChatId
    mark: ReadMark


@attrs.frozen
class _SetLastSeen:
    chat_id: ChatId
    user_id: UserId
    seen_ms: int


_WriteOp = _CreateChat | _AppendMessage | _SetReadMark | _SetLastSeen


@attrs.define(eq=False)
class _PendingWrite:
    op: _WriteOp
    done: trio.Event = attrs.field(factory=trio.Event)
    error: BaseException | None = None


def _apply(conn: sqlite3.Connection, op: _WriteOp) -> None:
    match op:
        case _CreateChat(chat):
            created_ms = to_epoch_ms(chat.created_at)
            conn.execute(
                "INSERT INTO chats (id, created_ms, last_seq, last_activity_ms)"
                " VALUES (?, ?, 0, ?)",
                (chat.id, created_ms, created_ms),
            )
            conn.executemany(
                "INSERT INTO participants (chat_id, user_id, position) VALUES (?, ?, ?)",
                [(chat.id, user, position) for position, user in enumerate(chat.participants)],
            )
        case _AppendMessage(m):
            created_ms = to_epoch_ms(m.timestamp)
            conn.execute(
                f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (m.id, m.chat_id, m.seq, m.user_id, m.type.value, m.content, created_ms,
                 m.client_message_id),
            )  # fmt: skip
            conn.execute(
                "UPDATE chats SET last_seq = ?, last_activity_ms = ? WHERE id = ?",
                (m.seq, created_ms, m.chat_id),
            )
        case _SetReadMark(chat_id, mark):
            conn.execute(
                "INSERT INTO read_marks (chat_id, user_id, message_id, seq) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (chat_id, user_id) DO UPDATE"
                " SET message_id = excluded.message_id, seq = excluded.seq",
                (chat_id, mark.user_id, mark.message_id, mark.seq),
            )
        case _SetLastSeen(chat_id, user_id, seen_ms):
            conn.execute(
                "INSERT INTO last_seen (chat_id, user_id, seen_ms) VALUES (?, ?, ?)"
                " ON CONFLICT (chat_id, user_id) DO UPDATE SET seen_ms = excluded.seen_ms",
                (chat_id, user_id, seen_ms),
            )


def _message_from_row(row: Sequence[Any]) -> Message:
    return Message(
        id=MessageId(row[0]),
        chat_id=ChatId(row[1]),
        seq=row[2],
        user_id=UserId(row[3]),
        type=MessageType(row[4]),
        content=row[5],
        timestamp=from_epoch_ms(row[6]),
        client_message_id=row[7],
    )


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    # FULL: a commit survives power loss, not only a killed process. Group commit pays for it.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


@attrs.define(eq=False)
class SqliteStore:
    path: Path
    _writes: trio.MemorySendChannel[_PendingWrite]
    _write_conn: sqlite3.Connection
    _read_conn: sqlite3.Connection
    _batch_max: int
    _write_limiter: trio.CapacityLimiter = attrs.field(factory=lambda: trio.CapacityLimiter(1))
    _read_limiter: trio.CapacityLimiter = attrs.field(factory=lambda: trio.CapacityLimiter(1))
    #: Transactions committed, and the writes they held (failed writes count in neither).
    batches_committed: int = 0
    writes_committed: int = 0
    #: Batches whose transaction failed and whose writes were then committed one by one.
    batches_split: int = 0
    #: Why the last write failed, while writes fail (a full disk); None once one succeeds.
    write_failure: str | None = None

    # -- writes -------------------------------------------------------------------------------

    async def _write(self, op: _WriteOp) -> None:
        pending = _PendingWrite(op)
        await self._writes.send(pending)
        await pending.done.wait()
        if isinstance(pending.error, sqlite3.OperationalError):
            # The engine, not the write, failed (disk full, I/O error): the request fails.
            self.write_failure = str(pending.error)
            raise StoreUnavailable() from pending.error
        if pending.error is not None:
            raise pending.error
        self.write_failure = None

    async def run_writer(self, writes: trio.MemoryReceiveChannel[_PendingWrite]) -> None:
        """Commit queued writes in batches until the channel closes and is drained."""
        async with writes:
            async for first in writes:
                batch = [first]
                while len(batch) < self._batch_max:
                    try:
                        batch.append(writes.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                await self._commit_batch(batch)
                for pending in batch:
                    pending.done.set()

    async def _commit_batch(self, batch: list[_PendingWrite]) -> None:
        """Commit ``batch`` in one transaction; if that fails, commit each write alone, so that
        one bad write (say, a constraint a buggy chat broke) fails only its own caller."""
        try:
            await self._commit_in_thread([pending.op for pending in batch])
        except Exception as error:
            if len(batch) == 1:
                log.exception("commit of a write failed")
                batch[0].error = error
                return
            log.warning("commit of %d writes failed (%s); committing them one by one",
                        len(batch), error)  # fmt: skip
            self.batches_split += 1
            for pending in batch:
                try:
                    await self._commit_in_thread([pending.op])
                except Exception as single_error:
                    log.exception("commit of a write failed")
                    pending.error = single_error

    async def _commit_in_thread(self, ops: list[_WriteOp]) -> None:
        await trio.to_thread.run_sync(self._commit, ops, limiter=self._write_limiter)
        self.batches_committed += 1
        self.writes_committed += len(ops)

    def _commit(self, ops: list[_WriteOp]) -> None:
        conn = self._write_conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for op in ops:
                _apply(conn, op)
            conn.execute("COMMIT")
        except BaseException:
            # A failed COMMIT (SQLITE_BUSY, a full disk) can leave the transaction open: roll it
            # back, or every later BEGIN fails and the writer is wedged for good.
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    log.exception("rollback after a failed commit failed")
            raise

    async def create_chat(self, chat: Chat) -> None:
        await self._write(_CreateChat(chat))

    async def append_message(self, message: Message) -> None:
        await self._write(_AppendMessage(message))

    async def set_read_mark(self, chat_id: ChatId, mark: ReadMark) -> None:
        await self._write(_SetReadMark(chat_id, mark))

    async def set_last_seen(self, chat_id: ChatId, user_id: UserId, moment: datetime) -> None:
        await self._write(_SetLastSeen(chat_id, user_id, to_epoch_ms(moment)))

    # -- reads --------------------------------------------------------------------------------

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return await trio.to_thread.run_sync(fn, self._read_conn, limiter=self._read_limiter)
        except sqlite3.OperationalError as error:
            raise StoreUnavailable() from error

    async def load_chat(
        self, chat_id: ChatId, *, window: int, idempotency_window: int
    ) -> LoadedChat | None:
        def load(conn: sqlite3.Connection) -> LoadedChat | None:
            conn.execute("BEGIN")
            try:
                row = conn.execute(
                    "SELECT created_ms, last_seq FROM chats WHERE id = ?", (chat_id,)
                ).fetchone()
                if row is None:
                    return None
                created_ms, last_seq = row
                chat = _chat_from(conn, chat_id, created_ms)
                recent = [
                    _message_from_row(r)
                    for r in conn.execute(
                        f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE chat_id = ?"
                        " ORDER BY seq DESC LIMIT ?",
                        (chat_id, window),
                    )
                ]
                recent.reverse()
                client_ids = {
                    (m.user_id, m.client_message_id): m
                    for m in map(
                        _message_from_row,
                        conn.execute(
                            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE chat_id = ?"
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
            return LoadedChat(chat, tuple(recent), last_seq, marks, seen, client_ids)

        return await self._read(load)

    async def read_messages(self, chat_id: ChatId, page: MessagePage) -> list[Message]:
        def read(conn: sqlite3.Connection) -> list[Message]:
            clauses: list[str] = ["chat_id = ?"]
            params: list[object] = [chat_id]
            if page.before_seq is not None:
                clauses.append("seq < ?")
                params.append(page.before_seq)
            if page.after_seq is not None:
                clauses.append("seq > ?")
                params.append(page.after_seq)
            forward = page.after_seq is not None and page.before_seq is None
            rows = conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE {' AND '.join(clauses)}"
                f" ORDER BY seq {'ASC' if forward else 'DESC'} LIMIT ?",
                (*params, page.limit),
            ).fetchall()
            messages = [_message_from_row(r) for r in rows]
            return messages if forward else messages[::-1]

        return await self._read(read)

    async def list_chats(self, *, limit: int) -> list[Chat]:
        def read(conn: sqlite3.Connection) -> list[Chat]:
            rows = conn.execute(
                "SELECT id, created_ms FROM chats ORDER BY rowid LIMIT ?", (limit,)
            ).fetchall()
            return [_chat_from(conn, ChatId(chat_id), created_ms) for chat_id, created_ms in rows]

        return await self._read(read)

    async def list_user_chats(self, user_id: UserId, *, limit: int) -> list[ChatSummary]:
        def read(conn: sqlite3.Connection) -> list[ChatSummary]:
            conn.execute("BEGIN")
            try:
                rows = conn.execute(
                    "SELECT c.id, c.created_ms, c.last_seq, c.last_activity_ms"
                    " FROM participants p JOIN chats c ON c.id = p.chat_id WHERE p.user_id = ?"
                    " ORDER BY c.last_activity_ms DESC, c.rowid DESC LIMIT ?",
                    (user_id, limit),
                ).fetchall()
                summaries = []
                for chat_id, created_ms, last_seq, activity_ms in rows:
                    last_row = conn.execute(
                        f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE chat_id = ? AND seq = ?",
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
                    summaries.append(
                        ChatSummary(
                            chat=_chat_from(conn, ChatId(chat_id), created_ms),
                            last_message=_message_from_row(last_row) if last_row else None,
                            unread_count=unread,
                            last_activity=from_epoch_ms(activity_ms),
                        )
                    )
            finally:
                conn.execute("COMMIT")
            return summaries

        return await self._read(read)

    async def check_ready(self) -> None:
        """Raise while writes fail, unless a probe write now succeeds; and if reads fail."""
        await self._read(lambda conn: conn.execute("SELECT 1").fetchone())
        if self.write_failure is not None:
            try:
                await trio.to_thread.run_sync(self._probe_write, limiter=self._write_limiter)
            except sqlite3.OperationalError as error:
                raise StoreUnavailable(f"writes fail: {error}") from error
            self.write_failure = None

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


def _chat_from(conn: sqlite3.Connection, chat_id: ChatId, created_ms: int) -> Chat:
    participants = tuple(
        UserId(user)
        for (user,) in conn.execute(
            "SELECT user_id FROM participants WHERE chat_id = ? ORDER BY position", (chat_id,)
        )
    )
    return Chat(chat_id, participants, from_epoch_ms(created_ms))


@asynccontextmanager
async def open_sqlite_store(
    data_dir: Path, *, batch_max: int = 512, queue_size: int = 2048
) -> AsyncIterator[SqliteStore]:
    """Open (and migrate) ``data_dir/chatactors.sqlite3``; on exit, commit what is queued, close.

    ``batch_max``: writes per commit at most; ``queue_size``: writes waiting for the writer.
    """
    path = data_dir / "chatactors.sqlite3"

    def open_connections() -> tuple[sqlite3.Connection, sqlite3.Connection]:
        data_dir.mkdir(parents=True, exist_ok=True)
        write_conn = _connect(path)
        migrate(write_conn)
        return write_conn, _connect(path)

    write_conn, read_conn = await trio.to_thread.run_sync(open_connections)
    send, receive = trio.open_memory_channel[_PendingWrite](queue_size)
    store = SqliteStore(path, send, write_conn, read_conn, batch_max)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(store.run_writer, receive)
            try:
                yield store
            finally:
                # Closing the send side lets the writer drain every queued write, then stop.
                await send.aclose()
    finally:
        write_conn.close()
        read_conn.close()
