"""Search requests and answers, whatever the engine (``ChatStore.search``).

Every engine answers the same request the same way: the messages of the chats the user takes
part in *now* (the store's participants, read in the same transaction as the matches, so a
member added later finds the history from the start and a member removed finds none of it)
whose content matches every term of the query (domain/search_query.py), never a deleted one
nor a system message (:func:`is_searchable`), with the optional filters. Newest first means
in the order the store stored them, newest first (a chat's messages in ``seq`` order): each
engine keeps a store order key per message, and a page continues below the last key of the one
before. By relevance, the newest :data:`RELEVANCE_CANDIDATES` matches are ranked (by
:func:`ranked`, on SQLite and memory), and pages go by offset, at most :data:`RELEVANCE_DEPTH`
results deep.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import attrs

from chatactors.domain.ids import ChatId, UserId
from chatactors.domain.models import Message, MessageType
from chatactors.domain.search_query import SearchQuery, bm25

#: How deep relevance-ranked results go: ranking needs every match, pages need not.
RELEVANCE_DEPTH = 1_000
#: By relevance, the newest this many matches are ranked (as deep as pages go): what a ranking
#: costs is then bounded for a word in most messages as for a rare one (BENCHMARKS.md,
#: "Search").
RELEVANCE_CANDIDATES = RELEVANCE_DEPTH


def relevance_candidates() -> int:
    """:data:`RELEVANCE_CANDIDATES`, read when a search runs (a test may lower it)."""
    return RELEVANCE_CANDIDATES


def ranked(
    query: SearchQuery,
    window: Sequence[tuple[int, Sequence[str]]],
    *,
    documents: int,
    document_frequencies: Sequence[int],
) -> list[int]:
    """The store order keys of ``window`` (the newest matches, each with its words) best
    first, newest first among equals: BM25 of the query's terms, among ``documents`` messages
    with words in the user's chats (and filters), ``document_frequencies`` of them holding each
    term, lengths measured against the window's average. The same numbers give the same order
    on every engine that ranks so."""
    average = sum(len(words) for _, words in window) / max(len(window), 1)
    scored = [
        (
            bm25(
                [term.count(words) for term in query.terms],
                len(words),
                documents=documents,
                average_length=average,
                document_frequencies=document_frequencies,
            ),
            key,
        )
        for key, words in window
    ]
    scored.sort(reverse=True)
    return [key for _, key in scored]


def is_searchable(message: Message) -> bool:
    """Whether search may find ``message``: not once deleted, and never a system message (the
    chat's record of a change to itself, ``alice added bob``). Those lines are the server's
    words, not a member's: a search for someone's name would find every chat they joined or
    left, and ``added`` every chat that grew (docs/API.md, "Search")."""
    return not message.deleted and message.system is None


class SearchOrder(enum.StrEnum):
    NEWEST = "newest"
    RELEVANCE = "relevance"


@attrs.frozen
class SearchRequest:
    user_id: UserId
    query: SearchQuery
    #: At most this many messages.
    limit: int
    chat_id: ChatId | None = None
    #: Only messages by this user.
    author: UserId | None = None
    type: MessageType | None = None
    order: SearchOrder = SearchOrder.NEWEST
    #: Where the previous page ended (its ``SearchPage.next``), or None for the first page.
    after: int | None = None


@attrs.frozen
class SearchPage:
    messages: list[Message]
    #: What continues after this page (``SearchRequest.after``), or None: there is no more.
    next: int | None


def page_of(found: Sequence[tuple[int, Message]], request: SearchRequest) -> SearchPage:
    """The page of ``found`` (at most ``limit + 1`` matches, in order, each with its store
    order key): the first ``limit``, and where the next page starts if there is one more."""
    messages = [message for _, message in found[: request.limit]]
    if len(found) <= request.limit or not messages:
        return SearchPage(messages, None)
    if request.order is SearchOrder.NEWEST:
        return SearchPage(messages, found[request.limit - 1][0])
    offset = (request.after or 0) + request.limit
    return SearchPage(messages, offset if offset < RELEVANCE_DEPTH else None)


def fetch_count(request: SearchRequest) -> int:
    """How many matches to ask an engine for: one more than a page, to know if more follow
    (by relevance, never past :data:`RELEVANCE_DEPTH`)."""
    if request.order is SearchOrder.RELEVANCE:
        return max(0, min(request.limit + 1, RELEVANCE_DEPTH - (request.after or 0)))
    return request.limit + 1
