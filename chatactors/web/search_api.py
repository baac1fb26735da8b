"""``GET /search``: the messages of the caller's chats that match a query (docs/API.md).

The route reads the store (storage/search.py), which any node of a cluster shares, so any node
answers; it never asks a chat's actor. A message is in the store, and so in its index, once its
send was acknowledged. Highlights are computed here from the parsed query, the same way for every
engine; the cursor is the store's continuation, wrapped so that clients treat it as opaque.
"""

from __future__ import annotations

import base64
import binascii

import msgspec
import orjson
from quart import Blueprint, Response

from chatactors.domain.errors import InvalidInput
from chatactors.domain.ids import ChatId
from chatactors.domain.models import MessageType
from chatactors.domain.rules import check_user_id
from chatactors.domain.search_query import SearchQuery, parse_query
from chatactors.storage.search import SearchOrder, SearchPage, SearchRequest
from chatactors.web.operations import operation
from chatactors.web.route_inputs import acting_user, request_query
from chatactors.web.services import services
from chatactors.web.value_schemas import ChatIdText, SearchLimit, SearchText, UserIdText
from chatactors.web.wire import MessageOut
from chatactors.web.wire_out import message_to_wire

blueprint = Blueprint("search", __name__)
#: Results in a page when the query does not say.
DEFAULT_LIMIT = 20


class SearchArgs(msgspec.Struct, frozen=True):
    """The query string of ``GET /search`` (its ``from`` is a Python keyword: the field
    ``author``, renamed)."""

    q: SearchText | None = None
    #: Who searches (access control off; on, the token's user): their chats only.
    user_id: UserIdText | None = None
    #: One of their chats only.
    chat_id: ChatIdText | None = None
    #: One author's messages only.
    author: UserIdText | None = msgspec.field(default=None, name="from")
    type: MessageType | None = None
    order: SearchOrder = SearchOrder.NEWEST
    limit: SearchLimit | None = None
    #: ``next_cursor`` of the page before (opaque: only the server's own are taken).
    cursor: str | None = None


class SearchHitOut(msgspec.Struct, frozen=True):
    chat_id: str
    message: MessageOut
    #: ``[start, end)`` of each match in ``message.content``, in code points.
    highlights: list[tuple[int, int]]


class SearchResultsOut(msgspec.Struct, frozen=True):
    results: list[SearchHitOut]
    #: Pass as ``cursor`` for the next page; null: there is none.
    next_cursor: str | None


@blueprint.get("/search")
@operation(
    SearchResultsOut,
    "The messages of the user's chats that match q, newest (or most relevant) first",
    query=SearchArgs,
    answers={
        403: "With access control: user_id names someone else.",
        422: (
            "The query is not valid: q with no word, a prefix shorter than 2 characters, more "
            "words than the most, or a cursor this server did not give (or gave for the other "
            "order)."
        ),
    },
    required_query=("q",),
    actor_query=True,
)
async def search() -> Response:
    args = request_query(SearchArgs)
    running = services()
    limits = running.settings.limits
    user = acting_user(args.user_id)
    if not args.q:
        raise InvalidInput("q is required (?q=): the words to search for")
    query = parse_query(args.q)
    cap = running.settings.max_search_results
    limit = DEFAULT_LIMIT if args.limit is None else args.limit
    if not 1 <= limit <= cap:
        raise InvalidInput(f"limit must be between 1 and {cap}")
    author = None if args.author is None else check_user_id(args.author, limits, field="from")
    page = await running.store.search(
        SearchRequest(
            user_id=user,
            query=query,
            limit=limit,
            chat_id=None if args.chat_id is None else ChatId(args.chat_id),
            author=author,
            type=args.type,
            order=args.order,
            after=None if args.cursor is None else decode_cursor(args.cursor, args.order),
        )
    )
    return Response(_encode(page, query, args.order), content_type="application/json")


def _encode(page: SearchPage, query: SearchQuery, order: SearchOrder) -> bytes:
    return orjson.dumps(
        {
            "results": [
                {
                    "chat_id": message.chat_id,
                    "message": message_to_wire(message),
                    "highlights": query.highlights(message.content),
                }
                for message in page.messages
            ],
            "next_cursor": None if page.next is None else encode_cursor(page.next, order),
        }
    )


def encode_cursor(after: int, order: SearchOrder) -> str:
    """An opaque cursor: which order it continues, and where."""
    return base64.urlsafe_b64encode(f"{order.value}:{after}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, order: SearchOrder) -> int:
    """Where a cursor continues. Raises ``InvalidInput`` for one this server did not make, or
    one made for the other order."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        kind, after = text.split(":")
        value = int(after)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("cursor is not one this server gave (pass next_cursor as is)") from None
    if kind != order.value:
        raise InvalidInput(f"cursor continues order={kind}, not order={order.value}")
    if value < 0:
        raise InvalidInput("cursor is not one this server gave (pass next_cursor as is)")
    return value
