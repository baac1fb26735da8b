"""SQLite's search index: an FTS5 table kept in step with the messages, in their transactions.

``message_search`` is a *contentless* FTS5 table (it keeps no copy of any text, only its index)
keyed by the messages table's rowid (the store order: newest first is ``rowid DESC``). Its two
columns hold tokens made in Python (domain/search_text.py), so that SQLite, PostgreSQL and the
memory store find the same messages:
- ``body``: the content's tokens, separated by spaces (the ``ascii`` tokenizer then splits on
  the spaces only: every token has letters, digits and marks alone);
- ``meta``: ``c<chat>``, ``u<author>`` and ``t<type>`` (ids as short hashes), so that the
  user's chats and the filters are part of the full-text query itself: FTS5 intersects them
  with the words' doclists (a user in 50 chats of 10,000 never pays for the other 9,950;
  BENCHMARKS.md). The rows it finds are then checked against the ids themselves.

Prefix indexes of 2, 3 and 4 characters make the usual prefixes (``co*``, ``conf*``) one
doclist each, read lazily as a word's is: without one, FTS5 first merges the doclists of every
word with the prefix, over the whole index (40 ms for a prefix of a word in most of 1,000,000
messages, whatever the user's share). A longer prefix of such a word still costs that
(BENCHMARKS.md, "Search"). A query's prefix must have at least 2 characters
(domain/search_query.py).

Newest first is the MATCH in ``rowid DESC`` order, stopping after a page. By relevance, the
newest matches are ranked in Python (storage/search.py, ``ranked``) with each term counted in
the user's chats: FTS5's own ``bm25()`` counts a term's messages over the whole index on every
query, which for a word in most messages costs more than the rest of the search.

Delete means gone: a deleted or edited message's old tokens are removed from the index in the
transaction that changes it (a contentless table is told the tokens it indexed, made again from
the stored content). FTS5 (before SQLite 3.44's ``secure-delete``) still keeps those tokens in
older segments of its index until they are merged, so each removal is counted
(``search_state.unpurged``), and the store merges the whole index (``optimize``) when it closes,
and when it opens after a server that could not (SECURITY.md).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from chatactors.domain.ids import ChatId, UserId
from chatactors.domain.models import Message, MessageType
from chatactors.domain.search_query import SearchQuery, Term
from chatactors.domain.search_text import index_text, words
from chatactors.storage.search import (
    SearchOrder,
    SearchPage,
    SearchRequest,
    fetch_count,
    is_searchable,
    page_of,
    ranked,
    relevance_candidates,
)

log = logging.getLogger(__name__)

#: The migration that makes the index (migrations.py runs it, then :func:`build_index`).
SCHEMA = """
ALTER TABLE messages ADD COLUMN mentions TEXT;
CREATE TABLE mentions (
    chat_id TEXT NOT NULL REFERENCES chats (id),
    user_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (chat_id, user_id, seq)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE message_search USING fts5(
    body, meta, content = '', tokenize = 'ascii', prefix = '2 3 4'
);
CREATE TABLE search_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    unpurged INTEGER NOT NULL
);
INSERT INTO search_state (id, unpurged) VALUES (1, 0);
"""

#: Log the index build's progress every this many messages.
_PROGRESS_EVERY = 50_000


def meta_tokens(chat_id: str, user_id: str, kind: MessageType) -> str:
    return f"{_chat_token(chat_id)} {_user_token(user_id)} t{kind.value}"


def _chat_token(chat_id: str) -> str:
    return "c" + _digest(chat_id)


def _user_token(user_id: str) -> str:
    return "u" + _digest(user_id)


@lru_cache(maxsize=16_384)  # every send hashes its chat and author: the busy ones again
def _digest(text: str) -> str:
    """A short token for an id of any length and alphabet: 48 bits of its BLAKE2b hash, in
    base 32 (two ids sharing one among a store's ids: one chance in ~10^7 for 10^4 chats; the
    query then checks the ids themselves, so it only costs a few rows read)."""
    digest = hashlib.blake2b(text.encode(), digest_size=6).digest()
    return base64.b32encode(digest).decode().rstrip("=").lower()


# -- writes (inside the group commit's transaction) ------------------------------------------


def index_message(conn: sqlite3.Connection, rowid: int, message: Message) -> None:
    """Index a message just stored at ``rowid`` (unless it is a system message), and its
    mentions."""
    body = index_text(message.content) if is_searchable(message) else ""
    if body:
        conn.execute(
            "INSERT INTO message_search (rowid, body, meta) VALUES (?, ?, ?)",
            (rowid, body, meta_tokens(message.chat_id, message.user_id, message.type)),
        )
    _add_mentions(conn, message)


def reindex_message(conn: sqlite3.Connection, message: Message) -> None:
    """Before ``message`` (edited or deleted) replaces its stored state: its old tokens and
    mentions out of the index, the new ones in."""
    row = conn.execute(
        "SELECT rowid, content, user_id, type, deleted, system FROM messages"
        " WHERE chat_id = ? AND seq = ?",
        (message.chat_id, message.seq),
    ).fetchone()
    if row is None:
        return
    rowid, old_content, author, kind, was_deleted, system = row
    # What the index holds for it now: nothing for a deleted or a system message.
    old_body = "" if was_deleted or system is not None else index_text(old_content)
    new_body = index_text(message.content) if is_searchable(message) else ""
    if old_body != new_body:
        meta = meta_tokens(message.chat_id, author, MessageType(kind))
        if old_body:
            conn.execute(
                "INSERT INTO message_search (message_search, rowid, body, meta)"
                " VALUES ('delete', ?, ?, ?)",
                (rowid, old_body, meta),
            )
            conn.execute("UPDATE search_state SET unpurged = unpurged + 1")
        if new_body:
            conn.execute(
                "INSERT INTO message_search (rowid, body, meta) VALUES (?, ?, ?)",
                (rowid, new_body, meta),
            )
    conn.execute(
        "DELETE FROM mentions WHERE chat_id = ? AND seq = ?", (message.chat_id, message.seq)
    )
    _add_mentions(conn, message)


def _add_mentions(conn: sqlite3.Connection, message: Message) -> None:
    if message.mentions:
        conn.executemany(
            "INSERT INTO mentions (chat_id, user_id, seq) VALUES (?, ?, ?)",
            [(message.chat_id, user, message.seq) for user in message.mentions],
        )


def build_index(conn: sqlite3.Connection) -> None:
    """Index every stored message (a data directory from before search), logging progress.
    System messages are not searchable (storage/search.py, ``is_searchable``)."""
    (total,) = conn.execute(
        "SELECT count(*) FROM messages WHERE NOT deleted AND system IS NULL"
    ).fetchone()
    if not total:
        return
    log.info("building the search index of %d messages", total)
    started = time.monotonic()
    done = 0
    rows = conn.execute(
        "SELECT rowid, chat_id, user_id, type, content FROM messages"
        " WHERE NOT deleted AND system IS NULL"
    )
    while batch := rows.fetchmany(1_000):
        entries = [
            (rowid, body, meta_tokens(chat_id, user_id, MessageType(kind)))
            for rowid, chat_id, user_id, kind, content in batch
            if (body := index_text(content))
        ]
        conn.executemany("INSERT INTO message_search (rowid, body, meta) VALUES (?, ?, ?)", entries)
        previous, done = done, done + len(batch)
        if done // _PROGRESS_EVERY != previous // _PROGRESS_EVERY or done == total:
            log.info(
                "search index: %d of %d messages (%.0f %%, %.1f s)",
                done, total, 100 * done / total, time.monotonic() - started,
            )  # fmt: skip


def purge_index(conn: sqlite3.Connection) -> None:
    """Merge the index into one segment if a removal left tokens behind in older ones (so a
    deleted message's words are in no page of the file), in a transaction of its own."""
    (unpurged,) = conn.execute("SELECT unpurged FROM search_state").fetchone()
    if not unpurged:
        return
    started = time.monotonic()
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("INSERT INTO message_search (message_search) VALUES ('optimize')")
        conn.execute("UPDATE search_state SET unpurged = 0")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    log.info("search index merged after %d removals (%.2f s)", unpurged, time.monotonic() - started)


# -- reads ----------------------------------------------------------------------------------


def search(
    conn: sqlite3.Connection,
    request: SearchRequest,
    select: str,
    from_row: Callable[[Sequence[Any]], Message],
) -> SearchPage:
    """The page of ``request``, in a read transaction: the user's chats and the matches
    seen at one moment. ``select``: the message columns (of ``m``); ``from_row`` reads them."""
    chats = _user_chats(conn, request.user_id, request.chat_id)
    if not chats:
        return SearchPage([], None)
    # The MATCH narrows to the user's chats and the filters by their tokens; the ids
    # themselves are checked on the few rows it leaves (the participants, again, in this
    # transaction: what grants access is the table, never a token).
    scope = _scope(chats, request.author, request.type)
    clauses = [
        "message_search MATCH ?",
        "NOT m.deleted",
        "m.chat_id IN (SELECT chat_id FROM participants WHERE user_id = ?)",
    ]
    params: list[object] = [f"{_words(request.query)} AND {scope}", request.user_id]
    if request.author is not None:
        clauses.append("m.user_id = ?")
        params.append(request.author)
    if request.order is SearchOrder.RELEVANCE:
        return _by_relevance(conn, request, scope, clauses, params, select, from_row)
    if request.after is not None:
        clauses.append("s.rowid < ?")
        params.append(request.after)
    rows = conn.execute(
        f"SELECT s.rowid, {select} FROM message_search s JOIN messages m ON m.rowid = s.rowid"
        f" WHERE {' AND '.join(clauses)} ORDER BY s.rowid DESC LIMIT ?",
        (*params, fetch_count(request)),
    ).fetchall()
    return page_of([(row[0], from_row(row[1:])) for row in rows], request)


def _by_relevance(
    conn: sqlite3.Connection,
    request: SearchRequest,
    scope: str,
    clauses: list[str],
    params: list[object],
    select: str,
    from_row: Callable[[Sequence[Any]], Message],
) -> SearchPage:
    """The newest matches ranked in Python (storage/search.py, ``ranked``), not by FTS5's
    ``bm25()``: that one counts each term's messages over the whole index, a scan of the
    word's every occurrence (40 ms for a word in most of 1,000,000 messages, however few of
    them are the user's). Here each term is counted in the user's chats only."""
    window = conn.execute(
        "SELECT s.rowid, m.content FROM message_search s JOIN messages m ON m.rowid = s.rowid"
        f" WHERE {' AND '.join(clauses)} ORDER BY s.rowid DESC LIMIT ?",
        (*params, relevance_candidates()),
    ).fetchall()
    if not window:
        return SearchPage([], None)
    terms = request.query.terms
    if len(terms) == 1:
        # One term: its weight (IDF) multiplies every score alike, so the order does not
        # depend on it, and counting the term's messages (6 ms for a word in most of the
        # user's) is left out.
        documents, frequencies = len(window), [len(window)]
    else:
        (documents,) = conn.execute(
            "SELECT count(*) FROM message_search WHERE message_search MATCH ?", (scope,)
        ).fetchone()
        frequencies = [
            conn.execute(
                "SELECT count(*) FROM message_search WHERE message_search MATCH ?",
                (f"{_words(SearchQuery((term,)))} AND {scope}",),
            ).fetchone()[0]
            for term in terms
        ]
    order = ranked(
        request.query,
        [(rowid, words(content)) for rowid, content in window],
        documents=documents,
        document_frequencies=frequencies,
    )
    offset = request.after or 0
    keys = order[offset : offset + fetch_count(request)]
    rows = conn.execute(
        f"SELECT m.rowid, {select} FROM messages m WHERE m.rowid IN ({', '.join('?' * len(keys))})",
        keys,
    ).fetchall()
    found = {row[0]: from_row(row[1:]) for row in rows}
    return page_of([(key, found[key]) for key in keys if key in found], request)


def _user_chats(conn: sqlite3.Connection, user_id: UserId, chat_id: ChatId | None) -> list[str]:
    if chat_id is None:
        rows = conn.execute("SELECT chat_id FROM participants WHERE user_id = ?", (user_id,))
    else:
        rows = conn.execute(
            "SELECT chat_id FROM participants WHERE user_id = ? AND chat_id = ?",
            (user_id, chat_id),
        )
    return [chat for (chat,) in rows]


def _words(query: SearchQuery) -> str:
    """Every term of the query in ``body``. Every string is quoted, and tokens hold letters,
    digits and marks only: nothing in it is FTS5 syntax that the user wrote."""
    return "body : (" + " AND ".join(_phrase(term) for term in query.terms) + ")"


def _scope(chats: Sequence[str], author: UserId | None, kind: MessageType | None) -> str:
    """The messages of one of ``chats`` (and the filters), by their tokens in ``meta``."""
    where = " OR ".join(f'"{_chat_token(chat)}"' for chat in chats)
    scope = f"meta : ({where})"
    if author is not None:
        scope += f' AND meta : "{_user_token(author)}"'
    if kind is not None:
        scope += f' AND meta : "t{kind.value}"'
    return scope


def _phrase(term: Term) -> str:
    return f'"{" ".join(term.tokens)}"' + ("*" if term.prefix else "")
