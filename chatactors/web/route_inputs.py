"""What a route takes from its request: its body and query as wire types, and who acts or reads.

A user id a route is given is checked (``check_user_id``) and, with access control, must be the
signed-in user's (``acting_as``: 403 otherwise); where a query may leave it out, the token's
user stands in.
"""

from __future__ import annotations

from typing import TypeVar

from quart import request

from chatactors.domain.errors import InvalidInput
from chatactors.domain.ids import UserId
from chatactors.domain.rules import check_user_id
from chatactors.web.auth import acting_as, authenticated_user
from chatactors.web.request import decode_body, decode_query
from chatactors.web.services import services

T = TypeVar("T")


async def request_body(model: type[T]) -> T:
    """The request's body as a ``model`` (the ``body`` of the route's ``operation``).

    The body is complete before the route runs (web/connection.py reads it, within
    ``body_timeout_s``), so it is awaited without another timeout scope.
    """
    raw: bytes = await request.body
    return decode_body(raw, model)


def request_query(model: type[T]) -> T:
    """The request's query string as a ``model``."""
    return decode_query(request.query_string, model)


def user_of(user_id: str) -> UserId:
    """A user id from a body, checked, and (with access control) the caller's own."""
    return acting_as(check_user_id(user_id, services().settings.limits))


def viewer_of(user_id: str | None) -> UserId | None:
    """Who reads: with access control, the token's user (``?user_id=`` may only name them);
    without, the ``?user_id=`` given, if any (a reader who names nobody is not checked, as the
    reference's reads are not)."""
    if user_id is None:
        return authenticated_user()
    return user_of(user_id)


def acting_user(user_id: str | None) -> UserId:
    """Who acts, from a query's ``user_id``; with access control, the token's user by default.
    Raises ``InvalidInput`` if neither names anyone."""
    user_id = user_id or authenticated_user()
    if user_id is None:
        raise InvalidInput("user_id is required (?user_id=)")
    return user_of(user_id)
