"""A raw ASGI fast path for the hottest routes, in front of the Quart app.

Sockets (``/ws/{id}``) are served here over the raw ASGI transport (web/chat_socket.py): no
Quart objects or tasks per socket. ``GET`` and ``POST /chats/{id}/messages`` are most of a busy
server's requests. Through Quart
each one costs about as much CPU again as Hypercorn itself (request context, routing, signals,
schema wrappers, after-request hooks; see BENCHMARKS.md), so here they are answered directly:
the same checks and the same code behind them (``chats_api.read_page`` / ``post_message``), the
same answers (tests/web/test_fast_path.py compares them with Quart's, byte for byte). Every other
request, and these routes too when access control is on, goes to Quart unchanged.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, cast
from urllib.parse import parse_qsl

import attrs
import orjson
import trio
from hypercorn.typing import (
    ASGIReceiveCallable,
    ASGISendCallable,
    HTTPRequestEvent,
    HTTPScope,
    Scope,
)
from quart_schema import RequestSchemaValidationError
from quart_schema.conversion import model_load
from quart_schema.validation import QuerystringValidationError
from quart_trio import QuartTrio

from chatactors.domain.errors import ChatError, InvalidInput
from chatactors.domain.rules import check_user_id
from chatactors.settings import Settings
from chatactors.web import chats_api, media_api
from chatactors.web.chat_socket import serve_chat_socket
from chatactors.web.cors import CorsPolicy
from chatactors.web.error_responses import (
    INTERNAL_ERROR_DETAIL,
    TOO_SLOW_DETAIL,
    error_headers,
    invalid_request_detail,
    status_for,
    too_large_detail,
)
from chatactors.web.lifespan import EXTENSION_KEY, Services
from chatactors.web.metrics import METRICS_KEY, WebMetrics
from chatactors.web.socket_context import SocketContext
from chatactors.web.socket_transport import AsgiSocket
from chatactors.web.user_socket import serve_user_socket
from chatactors.web.wire import MessagesQuery, PostMessageBody

log = logging.getLogger(__name__)

#: Werkzeug's ``<chat_id>`` matches one path segment; the app allows a trailing slash.
MESSAGES_PATH = re.compile(r"/chats/([^/]+)/messages/?")
SOCKET_PATH = re.compile(r"/ws/([^/]+)/?")
USER_SOCKET_PATH = re.compile(r"/ws/?")


class _BodyTooLarge(Exception):
    pass


@attrs.frozen
class _Answer:
    status: int
    body: bytes
    headers: dict[str, str] = attrs.field(factory=dict)


@attrs.define(eq=False)
class FastPathApp:
    """The ASGI app Hypercorn serves: the fast path, then the Quart app for everything else."""

    quart: QuartTrio
    settings: Settings
    _cors: CorsPolicy = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._cors = CorsPolicy.parse(self.settings.cors_origins)

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "websocket":
            match = SOCKET_PATH.fullmatch(scope["path"])
            context = SocketContext.of(self.quart)
            if match and context is not None:
                await serve_chat_socket(AsgiSocket(scope, receive, send), context, match.group(1))
                return
            if context is not None and USER_SOCKET_PATH.fullmatch(scope["path"]):
                await serve_user_socket(AsgiSocket(scope, receive, send), context)
                return
        elif scope["type"] == "http" and not self.settings.auth_enabled:
            match = MESSAGES_PATH.fullmatch(scope["path"])
            method = scope["method"]
            running: Services | None = self.quart.extensions.get(EXTENSION_KEY)
            if match and method in ("GET", "POST") and running is not None:
                answer = await self._answer(scope, receive, running, match.group(1))
                if answer is not None:
                    await self._send(scope, send, answer)
                return
        await self.quart(scope, receive, send)

    async def _answer(
        self, scope: HTTPScope, receive: ASGIReceiveCallable, running: Services, chat_id: str
    ) -> _Answer | None:
        """The answer; None if the client went away before sending its body."""
        try:
            with trio.fail_after(self.settings.command_timeout_s):
                if scope["method"] == "GET":
                    query = _load(_query_args(scope), MessagesQuery, QuerystringValidationError)
                    return _Answer(200, await chats_api.read_page(running, chat_id, query, None))
                raw = await _read_body(scope, receive, self.settings.max_body_bytes)
                if raw is None:
                    return None
                data = _load(_json_body(raw), PostMessageBody, RequestSchemaValidationError)
                limits = self.settings.limits
                chats_api.check_client_message_id(data, limits)
                user_id = check_user_id(data.user_id, limits)
                media: media_api.Media = self.quart.extensions[media_api.EXTENSION_KEY]
                metrics: WebMetrics = self.quart.extensions[METRICS_KEY]
                sent = await chats_api.post_message(running, media, metrics, chat_id, data, user_id)
                return _Answer(200, sent)
        except ChatError as error:
            return _error(status_for(error), str(error))
        except RequestSchemaValidationError as error:
            return _error(422, invalid_request_detail(error))
        except trio.TooSlowError:
            return _error(503, TOO_SLOW_DETAIL)
        except _BodyTooLarge:
            return _error(413, too_large_detail(self.settings.max_body_bytes))
        except Exception:
            log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            return _error(500, INTERNAL_ERROR_DETAIL)

    async def _send(self, scope: HTTPScope, send: ASGISendCallable, answer: _Answer) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(answer.body)).encode()),
        ]
        headers += [(k.encode(), v.encode()) for k, v in answer.headers.items()]
        origin = _header(scope, b"origin")
        if origin is not None and self._cors.allows(origin):
            headers += [(k.encode(), v.encode()) for k, v in self._cors.simple_headers(origin)]
            headers.append((b"vary", b"Origin"))
        await send({"type": "http.response.start", "status": answer.status, "headers": headers,
                    "trailers": False})  # fmt: skip
        await send({"type": "http.response.body", "body": answer.body, "more_body": False})


def _error(status: int, detail: str) -> _Answer:
    return _Answer(status, orjson.dumps({"detail": detail}), error_headers(status))


def _header(scope: HTTPScope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _query_args(scope: HTTPScope) -> dict[str, Any]:
    """The query as quart-schema reads ``request.args``: repeated keys become lists."""
    args: dict[str, Any] = {}
    for key, value in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
        if key in args:
            previous = args[key]
            args[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            args[key] = value
    return args


def _load(data: Any, model: type[Any], error: type[Exception]) -> Any:
    return model_load(data, model, error, preference="msgspec")


def _json_body(raw: bytes) -> Any:
    """The body as JSON whatever its Content-Type (as the app's ChatRequest does)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    # Rare: take the standard library's wording, so the detail is the one Quart gives.
    try:
        return json.loads(raw.decode("utf-8", "replace"))
    except ValueError as error:
        raise InvalidInput(f"The request body is not valid JSON: {error}") from None


async def _read_body(scope: HTTPScope, receive: ASGIReceiveCallable, limit: int) -> bytes | None:
    declared = _header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        request = cast(HTTPRequestEvent, message)
        chunk = request["body"]
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not request["more_body"]:
            return b"".join(chunks)
