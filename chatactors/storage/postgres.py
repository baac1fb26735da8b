"""PgStore: the shared durable store on PostgreSQL (psycopg 3, sync API, in worker threads).

psycopg's async API runs only on asyncio, so every database call runs in a Trio worker thread
on a connection from a ``psycopg_pool`` pool. Writes go through group commit (one writer, one
pipelined transaction per batch of every chat's writes); reads run on several connections at
once, each thread holding one, so a long read never holds up another chat's load.

When PostgreSQL cannot be reached, calls raise ``StoreUnavailable`` (503 with Retry-After) within
the pool's acquire timeout; the pool checks each connection as it hands it out and replaces
broken ones, so the store recovers by itself once PostgreSQL is back.

When PostgreSQL hangs (a paused server: the kernel still accepts and acknowledges, nothing
answers), no TCP timeout fires, so every call is bounded here instead (``timeout_s``,
``thread_calls``): past it the caller leaves its thread behind. A write that had gone out then
has an unknown outcome (``OutcomeUnknown``): the server may commit it once it wakes up. A write
the server refused, or that never went out, surely did not happen (``StoreUnavailable``). The
server cancels a statement itself a little sooner (``statement_timeout``, ``lock_timeout``), so
a server that is slow rather than stopped answers with a clean rollback. Keepalives and
``tcp_user_timeout`` end a connection whose peer is gone, so its thread does not wait forever.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

import attrs
import psycopg
import trio
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from chatactors.domain.clock import from_epoch_ms, to_epoch_ms
from chatactors.domain.errors import ChatNotFound, OutcomeUnknown
from chatactors.domain.events import LogEvent
from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import ChangeKind, Chat, ChatSummary, Message, ReadMark
from chatactors.storage import pg_search
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
from chatactors.storage.pg_schema import migrate
from chatactors.storage.pg_search import tsvector_text
from chatactors.storage.search import SearchPage, SearchRequest, is_searchable
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
    StoreUnavailable,
    merge_log,
)
from chatactors.storage.thread_calls import Sending, ThreadCalls

log = logging.getLogger(__name__)
T = TypeVar("T")
Conn = psycopg.Connection[tuple[Any, ...]]

#: The message columns of a search's rows (the messages table is ``m`` there).
_SEARCH_SELECT = message_columns("m")
_PARTICIPANTS = "array(SELECT user_id FROM participants p WHERE p.chat_id = c.id ORDER BY position)"
#: A chat's columns (its table aliased ``c``), in the order :func:`_chat_from_row` reads them.
_CHAT = f"c.id, c.created_ms, {_PARTICIPANTS}, c.title, c.kind, c.created_by"

#: Writes that change nothing when their owner token is stale: they affect no row then.
_APPEND = f"""
WITH owned AS (
    UPDATE chats SET last_seq = %(seq)s, last_pos = %(pos)s, last_activity_ms = %(ms)s
    WHERE id = %(chat)s AND owner_token <= %(owner)s RETURNING id
), mentioned AS (
    INSERT INTO mentions (chat_id, user_id, seq)
    SELECT id, unnest(%(mentioned)s::text[]), %(seq)s FROM owned
)
INSERT INTO messages ({MESSAGE_COLUMNS}, search)
SELECT %(id)s, id, %(seq)s, %(user)s, %(type)s, %(content)s, %(ms)s, %(client_id)s, %(pos)s,
       %(reply_to)s, %(mentions)s, NULL, %(search)s::tsvector
FROM owned
"""
#: A chat's new title and members with the system message that records them, in one
#: statement (data-modifying CTEs all run to completion); the main query answers whether the
#: owner token held. The participants kept and the ones added are upserted in their new order,
#: the others deleted: disjoint rows, so no row is touched twice. The system message gets no
#: ``search`` vector: it is not searchable (storage/search.py, ``is_searchable``).
_UPDATE_CHAT = f"""
WITH owned AS (
    UPDATE chats SET last_seq = %(seq)s, last_pos = %(pos)s, last_activity_ms = %(ms)s,
                     title = %(title)s
    WHERE id = %(chat)s AND owner_token <= %(owner)s RETURNING id
), message AS (
    INSERT INTO messages ({MESSAGE_COLUMNS})
    SELECT %(id)s, id, %(seq)s, %(user)s, 'text', %(content)s, %(ms)s, NULL, %(pos)s, NULL,
           NULL, %(system)s
    FROM owned
), gone AS (
    DELETE FROM participants p USING owned
    WHERE p.chat_id = owned.id AND NOT (p.user_id = ANY(%(users)s::text[]))
), members AS (
    INSERT INTO participants (chat_id, user_id, position)
    SELECT owned.id, u.user_id, u.ord - 1
    FROM owned, unnest(%(users)s::text[]) WITH ORDINALITY AS u(user_id, ord)
    ON CONFLICT (chat_id, user_id) DO UPDATE SET position = excluded.position
), marks AS (
    INSERT INTO read_marks (chat_id, user_id, message_id, seq)
    SELECT owned.id, r.user_id, %(id)s, %(seq)s
    FROM owned, unnest(%(readers)s::text[]) AS r(user_id)
    ON CONFLICT (chat_id, user_id)
    DO UPDATE SET message_id = excluded.message_id, seq = excluded.seq
)
SELECT id FROM owned
"""
#: The row's content is overwritten in place (a deleted message's with nothing); the row
#: version it replaces stays in the table's pages until VACUUM reclaims it (SECURITY.md).
_CHANGE = """
WITH owned AS (
    UPDATE chats SET last_pos = %(pos)s
    WHERE id = %(chat)s AND owner_token <= %(owner)s RETURNING id
), changed AS (
    UPDATE messages SET content = %(content)s, edited_ms = %(edited)s, deleted = %(deleted)s,
                        reactions = %(reactions)s
    FROM owned WHERE messages.chat_id = owned.id AND messages.seq = %(seq)s
    RETURNING messages.chat_id
)
INSERT INTO message_changes (chat_id, pos, seq, last_seq, kind)
SELECT chat_id, %(pos)s, %(seq)s, %(last_seq)s, %(kind)s FROM changed
"""
#: An edit or a delete: the content, its index entry and its mentions change too (mentions no
#: longer made are deleted, new ones added; both see the table as it was before the statement).
_CHANGE_CONTENT = """
WITH owned AS (
    UPDATE chats SET last_pos = %(pos)s
    WHERE id = %(chat)s AND owner_token <= %(owner)s RETURNING id
), changed AS (
    UPDATE messages SET content = %(content)s, edited_ms = %(edited)s, deleted = %(deleted)s,
                        reactions = %(reactions)s, mentions = %(mentions)s,
                        search = %(search)s::tsvector
    FROM owned WHERE messages.chat_id = owned.id AND messages.seq = %(seq)s
    RETURNING messages.chat_id
), unmentioned AS (
    DELETE FROM mentions USING changed
    WHERE mentions.chat_id = changed.chat_id AND mentions.seq = %(seq)s
      AND mentions.user_id <> ALL (%(mentioned)s::text[])
), mentioned AS (
    INSERT INTO mentions (chat_id, user_id, seq)
    SELECT chat_id, unnest(%(mentioned)s::text[]), %(seq)s FROM changed
    ON CONFLICT DO NOTHING
)
INSERT INTO message_changes (chat_id, pos, seq, last_seq, kind)
SELECT chat_id, %(pos)s, %(seq)s, %(last_seq)s, %(kind)s FROM changed
"""
_READ_MARK = """
INSERT INTO read_marks (chat_id, user_id, message_id, seq)
SELECT id, %(user)s, %(message)s, %(seq)s FROM chats
WHERE id = %(chat)s AND owner_token <= %(owner)s
ON CONFLICT (chat_id, user_id) DO UPDATE SET message_id = excluded.message_id, seq = excluded.seq
"""
_LAST_SEEN = """
INSERT INTO last_seen (chat_id, user_id, seen_ms)
SELECT id, %(user)s, %(ms)s FROM chats WHERE id = %(chat)s AND owner_token <= %(owner)s
ON CONFLICT (chat_id, user_id) DO UPDATE SET seen_ms = excluded.seen_ms
"""
_CREATE = """
WITH chat AS (
    INSERT INTO chats (id, created_ms, last_activity_ms, title, kind, created_by)
    VALUES (%(chat)s, %(ms)s, %(ms)s, %(title)s, %(kind)s, %(created_by)s)
    RETURNING id
)
INSERT INTO participants (chat_id, user_id, position)
SELECT chat.id, u.user_id, u.ord - 1
FROM chat, unnest(%(users)s::text[]) WITH ORDINALITY AS u(user_id, ord)
"""
_CLAIM = "UPDATE chats SET owner_token = owner_token + 1 WHERE id = %s RETURNING owner_token"


def _execute(conn: Conn, op: WriteOp) -> psycopg.Cursor[tuple[Any, ...]]:
    match op:
        case CreateChat(chat):
            params: dict[str, object] = {"chat": chat.id, "ms": to_epoch_ms(chat.created_at),
                                         "users": list(chat.participants), "title": chat.title,
                                         "kind": chat.kind.value,
                                         "created_by": chat.created_by}  # fmt: skip
            return conn.execute(_CREATE, params)
        case ClaimChat(chat_id):
            return conn.execute(_CLAIM, (chat_id,))
        case AppendMessage(m, owner):
            client_id = None if m.client_message_id is None else m.client_message_id.encode()
            return conn.execute(_APPEND, {
                "id": m.id, "chat": m.chat_id, "seq": m.seq, "user": m.user_id,
                "type": m.type.value, "content": m.content.encode(),
                "ms": to_epoch_ms(m.timestamp), "client_id": client_id, "owner": owner,
                "pos": m.pos, "reply_to": m.reply_to,
                "mentions": mentions_to_text(m.mentions), "mentioned": list(m.mentions),
                "search": tsvector_text(m.content) if is_searchable(m) else None,
            })  # fmt: skip
        case ChangeMessage(change, owner):
            m = change.message
            params = {
                "chat": m.chat_id, "seq": m.seq, "content": m.content.encode(),
                "edited": None if m.edited_at is None else to_epoch_ms(m.edited_at),
                "deleted": m.deleted, "reactions": reactions_to_text(m.reactions),
                "pos": change.pos, "last_seq": change.last_seq, "kind": change.change.value,
                "owner": owner,
            }  # fmt: skip
            if change.change not in (ChangeKind.EDITED, ChangeKind.DELETED):
                return conn.execute(_CHANGE, params)
            return conn.execute(_CHANGE_CONTENT, {
                **params,
                "mentions": mentions_to_text(m.mentions), "mentioned": list(m.mentions),
                "search": tsvector_text(m.content) if is_searchable(m) else None,
            })  # fmt: skip
        case UpdateChat(update, owner):
            chat, m = update.chat, update.message
            return conn.execute(_UPDATE_CHAT, {
                "chat": chat.id, "seq": m.seq, "pos": m.pos, "ms": to_epoch_ms(m.timestamp),
                "title": chat.title, "id": m.id, "user": m.user_id,
                "content": m.content.encode(), "system": system_to_text(m.system),
                "users": list(chat.participants),
                "readers": [mark.user_id for mark in update.read_marks], "owner": owner,
            })  # fmt: skip
        case SetReadMark(chat_id, mark, owner):
            return conn.execute(_READ_MARK, {"chat": chat_id, "user": mark.user_id,
                                             "message": mark.message_id, "seq": mark.seq,
                                             "owner": owner})  # fmt: skip
        case SetLastSeen(chat_id, user_id, seen_ms, owner):
            return conn.execute(_LAST_SEEN, {"chat": chat_id, "user": user_id, "ms": seen_ms,
                                             "owner": owner})  # fmt: skip


def _outcome(conn: Conn, op: WriteOp, cursor: psycopg.Cursor[tuple[Any, ...]]) -> object:
    """What a committed statement meant for its write: a refused write affected no row."""
    match op:
        case ClaimChat():
            row = cursor.fetchone()
            return None if row is None else int(row[0])
        case CreateChat():
            return None
        case AppendMessage(message, owner):
            chat_id = message.chat_id
        case ChangeMessage(change, owner):
            chat_id = change.message.chat_id
        case UpdateChat(update, owner):
            chat_id = update.chat.id
        case SetReadMark(chat_id, _, owner) | SetLastSeen(chat_id, _, _, owner):
            pass
    if cursor.rowcount > 0:
        return None
    exists = conn.execute("SELECT 1 FROM chats WHERE id = %s", (chat_id,)).fetchone()
    return StaleOwner(chat_id, owner) if exists else ChatNotFound(chat_id)


def _outcome_or_refusal(conn: Conn, op: WriteOp, cursor: psycopg.Cursor[tuple[Any, ...]]) -> object:
    """After the commit: a refused write whose reason cannot be read changed nothing anyway."""
    try:
        return _outcome(conn, op, cursor)
    except psycopg.Error as error:
        refused = StoreUnavailable()
        refused.__cause__ = error
        return refused


def _surely_rolled_back(error: psycopg.Error) -> bool:
    """The server answered with an error (a timeout, a lock it could not take, its shutdown), so
    the transaction did not commit; without an answer (the connection broke) nobody can tell."""
    return error.sqlstate is not None or isinstance(error, psycopg.errors.PipelineAborted)


def _message_from_row(row: Sequence[Any]) -> Message:
    """Content and client message id are BYTEA here (a PostgreSQL TEXT cannot hold NUL)."""
    content, client_message_id = row[5], row[7]
    return message_from_row(
        (*row[:5], bytes(content).decode(), row[6],
         None if client_message_id is None else bytes(client_message_id).decode(), *row[8:])
    )  # fmt: skip


def _chat_from_row(row: Sequence[Any]) -> Chat:
    """From the columns of :data:`_CHAT`."""
    chat_id, created_ms, participants, title, kind, created_by = row[:6]
    return chat_from_columns(chat_id, participants, created_ms, title, kind, created_by)


def _storable(text: str) -> bool:
    """A TEXT key can never hold NUL, so no stored row has one: answer "none" without asking."""
    return "\x00" not in text


@attrs.define(eq=False)
class PgStore(GroupCommitWrites):
    _pool: ConnectionPool[Conn]
    #: Reads, loads and readiness checks: several at once, each bounded by the store's timeout.
    _reads: ThreadCalls
    #: How long a call waits for a pool connection before it gives up with StoreUnavailable.
    _acquire_timeout_s: float

    @contextmanager
    def _connection(self) -> Iterator[Conn]:
        """A pool connection; connection failures become ``StoreUnavailable``."""
        try:
            with self._pool.connection(timeout=self._acquire_timeout_s) as conn:
                yield conn
        except (PoolTimeout, psycopg.OperationalError, psycopg.InterfaceError) as error:
            raise StoreUnavailable() from error

    # -- writes -------------------------------------------------------------------------------

    def _commit(self, ops: Sequence[WriteOp], sending: Sending) -> list[object]:
        with self._connection() as conn:
            sending()
            try:
                # One round trip for the whole batch: BEGIN, every statement, COMMIT.
                with conn.pipeline(), conn.transaction():
                    cursors = [_execute(conn, op) for op in ops]
            except (psycopg.OperationalError, psycopg.InterfaceError) as error:
                if _surely_rolled_back(error):
                    raise StoreUnavailable() from error
                raise OutcomeUnknown() from error
            return [_outcome_or_refusal(conn, op, cursor)
                    for op, cursor in zip(ops, cursors, strict=True)]  # fmt: skip

    # -- reads --------------------------------------------------------------------------------

    async def _read(self, fn: Callable[[Conn], T]) -> T:
        def run() -> T:
            with self._connection() as conn:
                return fn(conn)

        return await self._reads.read(run)

    async def load_chat(
        self, chat_id: ChatId, *, window: int, idempotency_window: int
    ) -> LoadedChat | None:
        if not _storable(chat_id):
            return None

        def load(conn: Conn, sending: Sending) -> LoadedChat | None:
            sending()  # a claim given up on is never sent, so it cannot fence out a later load
            # Claim and read in one transaction: no stale write can land after this read.
            with conn.transaction():
                claimed = conn.execute(_CLAIM, (chat_id,)).fetchone()
                if claimed is None:
                    return None
                row = conn.execute(
                    f"SELECT {_CHAT}, last_seq, last_pos FROM chats c WHERE id = %s",
                    (chat_id,),
                ).fetchone()
                assert row is not None
                last_seq = int(row[6])
                recent = conn.execute(
                    f"SELECT {MESSAGE_SELECT} FROM messages WHERE chat_id = %s"
                    " ORDER BY seq DESC LIMIT %s",
                    (chat_id, window),
                ).fetchall()
                keyed = conn.execute(
                    f"SELECT {MESSAGE_SELECT} FROM messages WHERE chat_id = %s"
                    " AND seq > %s AND client_message_id IS NOT NULL",
                    (chat_id, last_seq - idempotency_window),
                ).fetchall()
                marks = conn.execute(
                    "SELECT user_id, message_id, seq FROM read_marks WHERE chat_id = %s",
                    (chat_id,),
                ).fetchall()
                seen = conn.execute(
                    "SELECT user_id, seen_ms FROM last_seen WHERE chat_id = %s", (chat_id,)
                ).fetchall()
            client_ids = {
                (m.user_id, m.client_message_id): m
                for m in map(_message_from_row, keyed)
                if m.client_message_id is not None
            }
            return LoadedChat(
                chat=_chat_from_row(row),
                recent=tuple(_message_from_row(r) for r in reversed(recent)),
                last_seq=last_seq,
                read_marks={UserId(u): ReadMark(UserId(u), mid, seq) for u, mid, seq in marks},
                last_seen={UserId(u): from_epoch_ms(ms) for u, ms in seen},
                client_ids=client_ids,
                owner_token=int(claimed[0]),
                last_pos=int(row[7]),
            )

        def run(sending: Sending) -> LoadedChat | None:
            with self._connection() as conn:
                return load(conn, sending)

        try:
            return await self._reads.call(run)
        except OutcomeUnknown:
            # A claim that may land later only makes the next write of the actor that claimed
            # the chat meanwhile fail as stale, and that actor then loads the chat again.
            raise StoreNotAnswering() from None

    async def read_messages(self, chat_id: ChatId, page: MessagePage) -> list[Message]:
        if not _storable(chat_id):
            return []

        def read(conn: Conn) -> list[Message]:
            where, params, forward = page_sql(chat_id, page, "%s")
            rows = conn.execute(
                f"SELECT {MESSAGE_SELECT} FROM messages WHERE {where}", params
            ).fetchall()
            messages = [_message_from_row(r) for r in rows]
            return messages if forward else messages[::-1]

        return await self._read(read)

    async def find_message(self, chat_id: ChatId, message_id: MessageId) -> Message | None:
        if not (_storable(chat_id) and _storable(message_id)):
            return None

        def read(conn: Conn) -> Message | None:
            row = conn.execute(
                f"SELECT {MESSAGE_SELECT} FROM messages WHERE id = %s AND chat_id = %s",
                (message_id, chat_id),
            ).fetchone()
            return None if row is None else _message_from_row(row)

        return await self._read(read)

    async def read_log(self, chat_id: ChatId, page: LogPage) -> list[LogEvent]:
        if not _storable(chat_id):
            return []

        def read(conn: Conn) -> list[LogEvent]:
            with conn.transaction():
                last_change = conn.execute(
                    "SELECT pos, last_seq FROM message_changes WHERE chat_id = %s AND pos <= %s"
                    " ORDER BY pos DESC LIMIT 1",
                    (chat_id, page.after_pos),
                ).fetchone()
                after_seq = seq_at(
                    page.after_pos,
                    None if last_change is None else (int(last_change[0]), int(last_change[1])),
                )
                messages = [
                    _message_from_row(r)
                    for r in conn.execute(
                        f"SELECT {MESSAGE_SELECT} FROM messages WHERE chat_id = %s"
                        " AND seq > %s ORDER BY seq LIMIT %s",
                        (chat_id, after_seq, page.limit),
                    ).fetchall()
                ]
                changes = [
                    (int(pos), int(seq), str(kind))
                    for pos, seq, kind in conn.execute(
                        "SELECT pos, seq, kind FROM message_changes WHERE chat_id = %s"
                        " AND pos > %s ORDER BY pos LIMIT %s",
                        (chat_id, page.after_pos, page.limit),
                    ).fetchall()
                ]
                states = {m.seq: m for m in messages}
                missing = sorted({seq for _, seq, _ in changes} - states.keys())
                if missing:
                    for r in conn.execute(
                        f"SELECT {MESSAGE_SELECT} FROM messages WHERE chat_id = %s"
                        " AND seq = ANY(%s)",
                        (chat_id, missing),
                    ).fetchall():
                        found = _message_from_row(r)
                        states[found.seq] = found
            return merge_log(messages, changes, states, page)

        return await self._read(read)

    async def list_chats(self, *, limit: int) -> list[Chat]:
        def read(conn: Conn) -> list[Chat]:
            rows = conn.execute(
                f"SELECT {_CHAT} FROM chats c ORDER BY position LIMIT %s",
                (limit,),
            ).fetchall()
            return [_chat_from_row(row) for row in rows]

        return await self._read(read)

    async def list_user_chats(self, user_id: UserId, *, limit: int) -> list[ChatSummary]:
        if not _storable(user_id):
            return []

        def read(conn: Conn) -> list[ChatSummary]:
            # One query, one row per chat of this user: O(that user's chats), not O(all chats).
            rows = conn.execute(
                f"SELECT {_CHAT}, c.last_activity_ms,"
                " (SELECT count(*) FROM messages u WHERE u.chat_id = c.id"
                "   AND u.seq > coalesce(r.seq, 0) AND u.user_id <> p.user_id),"
                " (SELECT count(*) FROM mentions x WHERE x.chat_id = c.id"
                "   AND x.user_id = p.user_id AND x.seq > coalesce(r.seq, 0)),"
                f" {message_columns('m')}"
                " FROM participants p JOIN chats c ON c.id = p.chat_id"
                " LEFT JOIN messages m ON m.chat_id = c.id AND m.seq = c.last_seq"
                " LEFT JOIN read_marks r ON r.chat_id = c.id AND r.user_id = p.user_id"
                " WHERE p.user_id = %s"
                " ORDER BY c.last_activity_ms DESC, c.position DESC LIMIT %s",
                (user_id, limit),
            ).fetchall()
            return [
                ChatSummary(
                    chat=_chat_from_row(row),
                    last_message=None if row[9] is None else _message_from_row(row[9:]),
                    unread_count=int(row[7]),
                    last_activity=from_epoch_ms(row[6]),
                    unread_mentions=int(row[8]),
                )
                for row in rows
            ]

        return await self._read(read)

    async def search(self, request: SearchRequest) -> SearchPage:
        ids = (request.user_id, request.chat_id or "", request.author or "")
        if not all(map(_storable, ids)):
            return SearchPage([], None)

        def read(conn: Conn) -> SearchPage:
            return pg_search.search(conn, request, _SEARCH_SELECT, _message_from_row)

        return await self._read(read)

    async def check_ready(self) -> None:
        if self._reads.stuck or self._writer.stuck:
            raise StoreNotAnswering()  # at once: asking again would only wait the same way
        await self._read(lambda conn: conn.execute("SELECT 1").fetchone())


#: Liveness probes of an idle connection and the longest time sent data may stay unacknowledged:
#: a peer that is gone (not merely slow) ends the connection, and so the thread waiting on it.
#: An operator's own values in the URL win.
_TCP_OPTIONS = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 20_000,
}


def _server_timeouts(timeout_s: float) -> str:
    """``statement_timeout`` and ``lock_timeout`` a little under the client's bound, so that a
    slow server rolls back cleanly (503) before the client gives up on it (maybe a 504)."""
    if timeout_s <= 0:
        return "SET statement_timeout = 0; SET lock_timeout = 0"
    statement_ms = max(1, math.floor(timeout_s * 800))
    lock_ms = max(1, math.floor(timeout_s * 500))
    return f"SET statement_timeout = {statement_ms}; SET lock_timeout = {lock_ms}"


@asynccontextmanager
async def open_postgres_store(
    url: str,
    *,
    batch_max: int = 512,
    queue_size: int = 2048,
    readers: int = 4,
    acquire_timeout_s: float = 2.0,
    start_timeout_s: float = 30.0,
    timeout_s: float = 5.0,
) -> AsyncIterator[PgStore]:
    """Connect (a pool of ``readers`` + 1), migrate; on exit, commit what is queued, close.

    ``timeout_s``: the longest a call (a commit, a read) waits for the server (0: no bound).
    """
    given = conninfo_to_dict(url)
    tcp_options = {name: value for name, value in _TCP_OPTIONS.items() if name not in given}
    server_timeouts = _server_timeouts(timeout_s)

    def configure(conn: Conn) -> None:
        conn.execute(server_timeouts)

    pool: ConnectionPool[Conn] = ConnectionPool(
        url,
        min_size=readers + 1,
        max_size=readers + 1,
        open=False,
        # Each statement commits alone unless a transaction() block says otherwise. libpq's
        # connect timeout is in whole seconds, and 1 means 2.
        kwargs={
            "autocommit": True,
            "connect_timeout": max(2, math.ceil(acquire_timeout_s)),
            **tcp_options,
        },
        configure=configure,
        check=ConnectionPool.check_connection,
        timeout=acquire_timeout_s,
        name="chatactors",
    )

    def open_and_migrate() -> None:
        pool.open(wait=True, timeout=start_timeout_s)  # waits for a server still starting
        # On a connection of its own, without the statement timeout: a migration may be long.
        with psycopg.connect(
            url, autocommit=True, connect_timeout=max(2, math.ceil(start_timeout_s))
        ) as conn:
            migrate(conn)

    try:
        await trio.to_thread.run_sync(open_and_migrate)
        store: PgStore | None = None

        def commit(ops: Sequence[WriteOp], sending: Sending) -> list[object]:
            assert store is not None
            return store._commit(ops, sending)

        writer = GroupCommit.open(commit, batch_max, queue_size, timeout_s)
        reads = ThreadCalls(trio.CapacityLimiter(readers), timeout_s)
        store = PgStore(writer, pool, reads, acquire_timeout_s)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(writer.run)
            try:
                yield store
            finally:
                await writer.close()
    finally:
        await trio.to_thread.run_sync(pool.close)
