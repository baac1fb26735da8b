"""The OpenAPI 3.1 document at /openapi.json, assembled from the routes' declarations
(web/operations.py) and the app's URL map. msgspec writes the JSON Schema of every wire type,
web/value_schemas.py those of the constrained values, with this app's limits.

Besides what each route declares, the operations of a kind answer alike, and it is said here:
a body or query may be refused with 422; a JSON body with 413 (too large) and 408 (too slow);
any route but liveness may answer 503 (the server is not serving, or a chat did not answer),
with ``Retry-After``; with access control on, every route outside auth.py's public ones answers
401 without a valid token. Routes without a declaration (the web client and its files, this
document) are not part of the API and are left out.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from typing import Any

import msgspec
import orjson
import trio
from quart import Quart, Response
from werkzeug.routing import Rule

from chatactors import __version__
from chatactors.settings import Settings
from chatactors.web.auth import is_public
from chatactors.web.operations import Answer, Content, Operation, Schema, declared_operation
from chatactors.web.value_schemas import (
    REF_TEMPLATE,
    BotAssetName,
    ChatIdText,
    EmojiText,
    MediaIdText,
    MemberText,
    MessageIdText,
    value_schemas,
)
from chatactors.web.wire import ErrorOut

OPENAPI_PATH = "/openapi.json"
JSON = "application/json"

#: Every path parameter of the API, by name, and its kind: a route with another one fails to
#: be documented until it is added here.
PATH_PARAMETERS: dict[str, Any] = {
    "chat_id": ChatIdText,
    "message_id": MessageIdText,
    "emoji": EmojiText,
    "member": MemberText,
    "media_id": MediaIdText,
    "name": BotAssetName,
}

RETRY_AFTER: Schema = {
    "description": "Seconds to wait before retrying.",
    "schema": {"type": "integer", "minimum": 1},
}
#: Answers with Retry-After (web/error_responses.py's ``error_headers``).
_RETRY_STATUSES = (429, 503, 504)


def install(app: Quart, settings: Settings) -> None:
    """Serve the document at /openapi.json (made on first request, then kept)."""
    made: list[bytes] = []

    def make() -> bytes:
        return orjson.dumps(openapi_document(app, settings))

    async def openapi_json() -> Response:
        if not made:
            # In a thread: the character classes of the value schemas take most of a second
            # to build, once per process, which the event loop should not wait for.
            made.append(await trio.to_thread.run_sync(make))
        return Response(made[0], content_type=JSON)

    app.add_url_rule(OPENAPI_PATH, "openapi", openapi_json, methods=["GET"])


def openapi_document(app: Quart, settings: Settings) -> dict[str, Any]:
    """The document of every declared route of ``app``, as ``settings`` configure it."""
    found = list(_operations(app))
    types = _types_of(found)
    schemas, components = msgspec.json.schema_components(types, ref_template=REF_TEMPLATE)
    schema_of = {id(kind): schema for kind, schema in zip(types, schemas, strict=True)}
    paths: dict[str, dict[str, Any]] = {}
    for rule, method, declared in found:
        path, names = _openapi_path(rule)
        view = app.view_functions[rule.endpoint]
        public = is_public(method, path)
        parameters = [_path_parameter(name, schema_of) for name in names]
        if declared.query is not None:
            # Without access control, who acts must be named (with it, the token names them).
            required = set(declared.required_query)
            if declared.actor_query and not settings.auth_enabled:
                required.add("user_id")
            parameters.extend(_query_parameters(components[declared.query.__name__], required))
        described: dict[str, Any] = {
            "operationId": view.__name__,
            "tags": [rule.endpoint.partition(".")[0]],
        }
        summary = (inspect.getdoc(view) or "").split("\n\n")[0].replace("\n", " ")
        if summary:
            described["summary"] = summary
        if parameters:
            described["parameters"] = parameters
        if declared.body is not None:
            body = _content(declared.body, schema_of)
            described["requestBody"] = {"required": True, "content": body}
        answers = _answers(declared, settings, public=public)
        described["responses"] = {
            str(status): _response(answer, status, schema_of)
            for status, answer in sorted(answers.items())
        }
        if settings.auth_enabled and not public:
            described["security"] = [{"bearer": []}]
        paths.setdefault(path, {})[method.lower()] = described
    # A query type is shown as its parameters, not as a schema.
    queries = {declared.query.__name__ for _, _, declared in found if declared.query is not None}
    components = {name: schema for name, schema in components.items() if name not in queries}
    components.update(value_schemas(settings))
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "chatactors",
            "version": __version__,
            "description": "A real-time chat server; docs/API.md describes its WebSockets too.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(components.items()))},
    }
    if settings.auth_enabled:
        document["components"]["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        }
    return document


def _operations(app: Quart) -> Iterator[tuple[Rule, str, Operation]]:
    for rule in app.url_map.iter_rules():
        declared = declared_operation(app.view_functions[rule.endpoint])
        if declared is not None and not rule.websocket:
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                yield rule, method, declared


def _types_of(found: list[tuple[Rule, str, Operation]]) -> list[Any]:
    """Every type the document shows a schema of, once each (by identity, as ``list[X]``
    makes a new object each time it is written)."""
    types: dict[int, Any] = {id(kind): kind for kind in PATH_PARAMETERS.values()}
    for _, _, declared in found:
        bodies = [declared.body, declared.query, *(a.body for a in declared.answers.values())]
        types.update((id(body), body) for body in bodies if body is not None)
    return [kind for kind in types.values() if not isinstance(kind, Content)]


def _openapi_path(rule: Rule) -> tuple[str, list[str]]:
    """``/chats/<chat_id>`` as ``/chats/{chat_id}``, and its parameters in order."""
    names: list[str] = []

    def parameter(match: re.Match[str]) -> str:
        names.append(match[1])
        return "{" + match[1] + "}"

    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", parameter, rule.rule), names


def _path_parameter(name: str, schema_of: dict[int, Schema]) -> Schema:
    if name not in PATH_PARAMETERS:
        raise LookupError(f"the path parameter {name!r} has no kind: add it to PATH_PARAMETERS")
    schema = schema_of[id(PATH_PARAMETERS[name])]
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query_parameters(query: Schema, required: set[str]) -> Iterator[Schema]:
    """A query type's fields as parameters (those in ``required`` required too): one that may
    be left out is optional (a query string cannot hold a null)."""
    required = required | set(query.get("required", ()))
    for name, field in query["properties"].items():
        schema = dict(field)
        choices = schema.pop("anyOf", None)
        if choices is not None:
            (schema_of_value,) = (c for c in choices if c != {"type": "null"})
            schema.update(schema_of_value)
        if schema.get("default", ...) is None:
            del schema["default"]
        yield {"name": name, "in": "query", "required": name in required, "schema": schema}


def _answers(declared: Operation, settings: Settings, *, public: bool) -> dict[int, Answer]:
    """What the route declares, and what every route of its kind may answer too."""
    shared: dict[int, Answer] = {}
    if declared.body is not None or declared.query is not None:
        shared[422] = Answer("The body or the query is not valid; nothing changed.")
    if declared.body is not None and not isinstance(declared.body, Content):
        shared[413] = Answer(f"The body is larger than {settings.max_body_bytes} bytes.")
        if settings.body_timeout_s > 0:
            shared[408] = Answer(f"The body did not arrive within {settings.body_timeout_s} s.")
    if declared.may_be_unavailable:
        shared[503] = Answer(
            "Not available now (the server is starting or stopping, a chat or the store did "
            "not answer in time); nothing changed: retry after Retry-After."
        )
    if settings.auth_enabled and not public:
        shared[401] = Answer(
            "No valid bearer token (missing, forged, expired).",
            headers={"WWW-Authenticate": {"schema": {"type": "string"}}},
        )
    return {**shared, **declared.answers}


def _content(body: Any, schema_of: dict[int, Schema]) -> dict[str, Schema]:
    if isinstance(body, Content):
        return dict(body.media)
    return {JSON: {"schema": schema_of[id(body)]}}


def _response(answer: Answer, status: int, schema_of: dict[int, Schema]) -> Schema:
    response: Schema = {"description": answer.description}
    headers = dict(answer.headers)
    if status in _RETRY_STATUSES and answer.body is ErrorOut:
        headers.setdefault("Retry-After", RETRY_AFTER)
    if headers:
        response["headers"] = headers
    if answer.body is not None:
        response["content"] = _content(answer.body, schema_of)
    return response
