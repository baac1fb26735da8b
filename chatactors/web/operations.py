"""What each route of the API takes and answers, declared beside the route with
:func:`operation`; web/openapi.py assembles the OpenAPI document from these declarations.

A declaration names types, never schemas: the body and query types are the ones the route
decodes (web/wire.py), the answer the one its JSON has, so the document says what the server
does. Only what no type can say (a file's media types, a response's headers) is written as
JSON Schema here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs

from chatactors.web.wire import ErrorOut

Schema = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Any])
#: Where a view function keeps its declaration.
_ATTRIBUTE = "__chatactors_operation__"


@attrs.frozen
class Content:
    """A body that is not one JSON type: media type -> its media type object (``schema``...)."""

    media: Mapping[str, Schema]


@attrs.frozen
class Answer:
    """One status of an operation: what it means, its body (a wire type, ``list[...]`` of one,
    a :class:`Content`, or None for no body) and its headers (name -> JSON Schema)."""

    description: str
    body: Any = ErrorOut
    headers: Mapping[str, Schema] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Operation:
    #: status -> what the route answers with it (the 2xx ones and the refusals it makes
    #: itself; web/openapi.py adds those every route of a kind shares: 401, 408, 413, 422, 503).
    answers: Mapping[int, Answer]
    #: The type the JSON body is decoded into, or a :class:`Content`.
    body: Any = None
    #: The type the query string is decoded into.
    query: type[Any] | None = None
    #: Query parameters the route requires itself (its type leaves them out, so that the
    #: route's refusal can say how to give them).
    required_query: tuple[str, ...] = ()
    #: The query's ``user_id`` names who acts: required unless access control is on (then it
    #: is the signed-in user by default).
    actor_query: bool = False
    #: False for a route that answers whether or not the services run (liveness).
    may_be_unavailable: bool = True


def operation(
    answer: Any,
    description: str = "",
    *,
    body: Any = None,
    query: type[Any] | None = None,
    answers: Mapping[int, str | Answer] | None = None,
    required_query: tuple[str, ...] = (),
    actor_query: bool = False,
    may_be_unavailable: bool = True,
) -> Callable[[F], F]:
    """Declare a route's operation: ``answer``, the body of its 200 (with ``description``; or
    an :class:`Answer`), and ``answers``, its other statuses -> what each means (an
    ``{"detail"}`` body), or an :class:`Answer`."""
    declared = Operation(
        answers={
            200: answer if isinstance(answer, Answer) else Answer(description or "OK", answer),
            **{
                status: said if isinstance(said, Answer) else Answer(said)
                for status, said in (answers or {}).items()
            },
        },
        body=body,
        query=query,
        required_query=required_query,
        actor_query=actor_query,
        may_be_unavailable=may_be_unavailable,
    )

    def declare(view: F) -> F:
        setattr(view, _ATTRIBUTE, declared)
        return view

    return declare


def declared_operation(view: Callable[..., Any]) -> Operation | None:
    """The declaration of ``view``, if it is a route of the API."""
    found = getattr(view, _ATTRIBUTE, None)
    return found if isinstance(found, Operation) else None
