"""PostgreSQL's search index: a ``tsvector`` per message, made in Python, under a GIN index.

Why not a text search configuration (``to_tsvector('simple', unaccent(...))``) or ``pg_trgm``:
the tokens come from the tokenizer every engine shares (domain/search_text.py), written as a
``tsvector`` literal (lexemes and positions, parsed by no configuration), so PostgreSQL finds
exactly what SQLite and the memory store find; accents, case and CJK are handled once, there.
No extension is needed (``unaccent`` folds fewer letters, and a configuration's parser keeps a
run of CJK characters as one word); ``pg_trgm`` would find ``東京`` too, but neither phrases
nor prefixes of words, and its index is several times larger. The query is a ``tsquery`` literal
made from the parsed terms: ``'lunch' & 'fri':*`` and ``'東' <-> '京'`` for a phrase.

Newest first is the ``stored`` column (a sequence, the store order), which a b-tree indexes
too: for a common word the planner walks it backwards and stops after a page; for a rare one it
asks the GIN index. The user's chats are a ``participants`` subquery in the same statement.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from chatactors.domain.models import Message
from chatactors.domain.search_query import SearchQuery, Term
from chatactors.domain.search_text import words
from chatactors.storage.search import (
    SearchOrder,
    SearchPage,
    SearchRequest,
    fetch_count,
    page_of,
    relevance_candidates,
)

log = logging.getLogger(__name__)
Conn = psycopg.Connection[tuple[Any, ...]]

#: PostgreSQL keeps at most this many positions of one lexeme in a tsvector.
_MAX_POSITIONS = 256
_PROGRESS_EVERY = 50_000

#: Before :func:`build_index` fills them: the columns, the mentions, the store order.
SCHEMA = """
ALTER TABLE messages
    ADD COLUMN mentions TEXT,
    ADD COLUMN search tsvector,
    ADD COLUMN stored BIGINT;
CREATE TABLE mentions (
    chat_id TEXT NOT NULL REFERENCES chats (id),
    user_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (chat_id, user_id, seq)
);
CREATE SEQUENCE messages_stored OWNED BY messages.stored;
UPDATE messages m SET stored = o.n
FROM (SELECT chat_id, seq, row_number() OVER (ORDER BY created_ms, chat_id, seq) AS n
      FROM messages) o
WHERE m.chat_id = o.chat_id AND m.seq = o.seq;
SELECT setval('messages_stored', coalesce((SELECT max(stored) FROM messages), 0) + 1, false);
ALTER TABLE messages
    ALTER COLUMN stored SET DEFAULT nextval('messages_stored'),
    ALTER COLUMN stored SET NOT NULL;
"""
#: After :func:`build_index`: indexes are faster built once than kept up row by row.
INDEXES = """
CREATE INDEX messages_search ON messages USING gin (search);
CREATE UNIQUE INDEX messages_stored_order ON messages (stored);
"""


def tsvector_text(content: str) -> str | None:
    """``content``'s tokens as a tsvector literal (``'word':1,7 'other':2``), None if none.
    Tokens hold letters, digits and marks only, so they need no escaping."""
    positions: dict[str, list[str]] = {}
    for index, word in enumerate(words(content), 1):
        found = positions.setdefault(word, [])
        if len(found) < _MAX_POSITIONS:
            found.append(str(index))
    if not positions:
        return None
    return " ".join(f"'{lexeme}':{','.join(at)}" for lexeme, at in positions.items())


def tsquery_text(query: SearchQuery) -> str:
    """The query as a tsquery literal: every term, each a lexeme or a phrase (``<->``)."""
    return " & ".join(_term(term) for term in query.terms)


def _term(term: Term) -> str:
    lexemes = [f"'{token}'" for token in term.tokens]
    if term.prefix:
        lexemes[-1] += ":*"
    joined = " <-> ".join(lexemes)
    return f"({joined})" if len(lexemes) > 1 else joined


def build_index(conn: Conn) -> None:
    """Fill ``search`` for every stored message (a database from before search), with
    progress in the log, then make the indexes."""
    (total,) = conn.execute(
        "SELECT count(*) FROM messages WHERE NOT deleted AND system IS NULL"
    ).fetchone() or (0,)
    if total:
        log.info("building the search index of %d messages", total)
    started = time.monotonic()
    done = 0
    with conn.cursor(name="search_backfill") as rows:
        # System messages are not searchable (storage/search.py, ``is_searchable``).
        rows.execute(
            "SELECT chat_id, seq, content FROM messages WHERE NOT deleted AND system IS NULL"
        )
        while batch := rows.fetchmany(1_000):
            updates = [
                (vector, chat_id, seq)
                for chat_id, seq, content in batch
                if (vector := tsvector_text(bytes(content).decode())) is not None
            ]
            with conn.cursor() as writer:
                writer.executemany(
                    "UPDATE messages SET search = %s::tsvector WHERE chat_id = %s AND seq = %s",
                    updates,
                )
            previous, done = done, done + len(batch)
            if done // _PROGRESS_EVERY != previous // _PROGRESS_EVERY or done == total:
                log.info(
                    "search index: %d of %d messages (%.0f %%, %.1f s)",
                    done, total, 100 * done / total, time.monotonic() - started,
                )  # fmt: skip
    conn.execute(INDEXES.encode())


def search(
    conn: Conn, request: SearchRequest, select: str, from_row: Callable[[Sequence[Any]], Message]
) -> SearchPage:
    """The page of ``request`` in one statement (the user's chats read with the matches).
    ``select``: the message columns of ``m``; ``from_row`` reads them."""
    clauses = [
        "m.search @@ %(query)s::tsquery",
        "NOT m.deleted",
        "m.chat_id IN (SELECT chat_id FROM participants WHERE user_id = %(user)s)",
    ]
    params: dict[str, object] = {
        "query": tsquery_text(request.query),
        "user": request.user_id,
        "count": fetch_count(request),
        "offset": 0,
    }
    if request.chat_id is not None:
        clauses.append("m.chat_id = %(chat)s")
        params["chat"] = request.chat_id
    if request.author is not None:
        clauses.append("m.user_id = %(author)s")
        params["author"] = request.author
    if request.type is not None:
        clauses.append("m.type = %(type)s")
        params["type"] = request.type.value
    where = " AND ".join(clauses)
    if request.order is SearchOrder.NEWEST:
        if request.after is not None:
            where += " AND m.stored < %(after)s"
            params["after"] = request.after
        rows = conn.execute(
            f"SELECT m.stored, {select} FROM messages m WHERE {where}"
            " ORDER BY m.stored DESC LIMIT %(count)s",
            params,
        ).fetchall()
        return page_of([(int(row[0]), from_row(row[1:])) for row in rows], request)
    # The newest matches ranked (storage/search.py), normalised by the message's length (16:
    # 1 + log of its distinct words): as in BM25, a word once in a short message weighs more
    # than once in a long one, and more often more (plain ts_rank ignores the length; 1, the
    # length in words, lets the length win).
    params["offset"] = request.after or 0
    params["window"] = relevance_candidates()
    rows = conn.execute(
        "SELECT w.* FROM ("
        f" SELECT m.stored, ts_rank(m.search, %(query)s::tsquery, 16) AS score, {select}"
        f" FROM messages m WHERE {where} ORDER BY m.stored DESC LIMIT %(window)s"
        ") w ORDER BY w.score DESC, w.stored DESC LIMIT %(count)s OFFSET %(offset)s",
        params,
    ).fetchall()
    return page_of([(int(row[0]), from_row(row[2:])) for row in rows], request)
