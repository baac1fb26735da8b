"""The ASGI connection of one HTTP request: its body's limits, and a cheaper way to answer.

Quart builds one of these per request (``app.asgi_http_class``, set by :func:`install`), on
chatactors.compat.quart_trio's :class:`HTTPConnection` (which says what it replaces in
Quart-Trio's and why). What this one does:

- Limits on the body, in size and in time (SECURITY.md lists them):

  - ``POST /media`` gets its own size limit (the largest upload plus room for the multipart
    framing) instead of the app-wide ``MAX_CONTENT_LENGTH``. Quart fixes a request's limit
    when it builds the request, before routing and while the body starts arriving; this is the
    one place where it can be changed without losing bytes.
  - Refused before any of the body is read: a declared ``Content-Length`` over that limit
    (413), and a request with both ``Content-Length`` and ``Transfer-Encoding`` (400: RFC 9112
    section 6.1 calls it a possible smuggling attempt, and h11 would go by the
    ``Transfer-Encoding`` and keep the connection). A before-request hook raises the refusal,
    so that the route's own 413, the error handlers and CORS apply.
  - A body must keep pace (web/body_pace.py): an upload at ``upload_min_bytes_per_s`` after
    ``upload_grace_s`` and whole within ``upload_timeout_s``, any other body whole within
    ``body_timeout_s``; a slower one gets 408 (the route's read raises ``RequestTimeout``).
  - An answer given before the body has all arrived says ``Connection: close`` (HTTP/1.x)
    and Hypercorn closes the connection after it. Meanwhile what the client still sends is
    read and dropped: left unread, it fills Hypercorn's queue of body events, and the answer's
    end (which puts the disconnect on that queue) would wait forever.

- An answer whose body is already in memory (every JSON answer) goes out in two ASGI messages
  instead of three, and without the RESPONSE_TIMEOUT cancel scope
  (:meth:`HTTPConnection.send_response`).
- The body is read before the route runs, in the connection's own task: Quart-Trio opens a
  nursery with two tasks per request (one receives the body, one runs the route) and cancels
  the route if the client leaves. Every route but the upload reads its whole body before doing
  anything, so nothing is lost but the nursery; a route left running after its client is gone
  is bounded by its own deadline.
- ``POST /media`` streams into the media store as bytes arrive: the route runs beside a task
  that receives the body, and is cancelled if the client leaves first (its temporary file goes
  with it). Unlike Quart-Trio's, a disconnect after the answer has begun cancels nothing: it is
  the answer's own doing (Hypercorn ends the stream as the last byte goes out), and cancelling
  there interrupts Hypercorn while it closes the connection, which then stays open.
"""

from __future__ import annotations

import enum
from typing import cast

import trio
from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable
from quart import Request, request
from quart_trio import QuartTrio
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge, RequestTimeout

from chatactors.compat.quart_trio import FailableBody, FailableRequest, HTTPConnection
from chatactors.settings import Settings
from chatactors.web.body_pace import BodyPace
from chatactors.web.services import MEDIA_PATH

#: The config key of the body limit of ``POST /media`` (set by media_api.install).
UPLOAD_MAX_BYTES_KEY = "CHATACTORS_UPLOAD_MAX_BYTES"
#: The config keys of the paces bodies must keep (:class:`BodyPace`, set by :func:`install`).
BODY_PACE_KEY = "CHATACTORS_BODY_PACE"
UPLOAD_PACE_KEY = "CHATACTORS_UPLOAD_PACE"

BOTH_FRAMINGS_DETAIL = (
    "The request has both Content-Length and Transfer-Encoding; send one (RFC 9112 6.1)"
)
#: The HTTP versions whose connections carry one request after another.
_KEPT_ALIVE_VERSIONS = frozenset({"1.0", "1.1"})


def install(app: QuartTrio, settings: Settings) -> None:
    """Serve the app's HTTP requests through :class:`ChatHTTPConnection`, with the body limits
    of ``settings`` (install it before other before-request hooks: a refusal comes first)."""
    app.asgi_http_class = ChatHTTPConnection
    app.request_class = ChatRequest
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    # Quart's own reads (get_data) wait this long; ours have read the body before the route.
    app.config["BODY_TIMEOUT"] = settings.body_timeout_s or None
    app.config[BODY_PACE_KEY] = BodyPace.of_bodies(settings)
    app.config[UPLOAD_PACE_KEY] = BodyPace.of_uploads(settings)
    app.before_request(_refuse_before_the_body)


def _refusal_before_the_body(built: Request) -> HTTPException | None:
    """Why ``built`` is refused before any of its body is read, if it is."""
    headers = built.headers
    if "Transfer-Encoding" in headers and "Content-Length" in headers:
        return BadRequest(BOTH_FRAMINGS_DETAIL)
    declared, limit = built.content_length, built.max_content_length
    if declared is not None and limit is not None and declared > limit:
        return RequestEntityTooLarge()
    return None


async def _refuse_before_the_body() -> None:
    refusal = cast(ChatRequest, request).refusal
    if refusal is not None:
        raise refusal


class ChatRequest(FailableRequest):
    #: Why the request is refused before its body is read (found by the connection, raised
    #: by the before-request hook).
    refusal: HTTPException | None = None


class _BodyEnd(enum.Enum):
    COMPLETE = enum.auto()
    OVER_LIMIT = enum.auto()
    TOO_SLOW = enum.auto()
    CLIENT_LEFT = enum.auto()


def _is_upload(built: Request) -> bool:
    return built.method == "POST" and built.path.rstrip("/") == MEDIA_PATH


class ChatHTTPConnection(HTTPConnection):
    #: The whole body has arrived: the connection may carry another request after the answer.
    _body_ended = False
    #: The answer has begun: a disconnect from now on is its own doing.
    _answering = False

    def _build_request(self, send: ASGISendCallable) -> ChatRequest:
        built = cast(ChatRequest, self.build_request(send))  # install() made it the class
        if _is_upload(built):
            limit: int = self.app.config[UPLOAD_MAX_BYTES_KEY]
            built.max_content_length = limit
            built.body = built.body_class(built.content_length, limit)
        else:
            # Set, not left to Quart's lookup in the app's config: that needs an app context.
            built.max_content_length = self.app.config["MAX_CONTENT_LENGTH"]
        return built

    async def serve(self, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        built = self._build_request(send)
        built.refusal = _refusal_before_the_body(built)
        if built.refusal is not None:
            # The before-request hook raises the refusal; not a byte of the body is read.
            await self._answer_early(built, receive, send)
        elif _is_upload(built):
            await self._serve_upload(built, receive, send)
        else:
            ended = await self._receive_body(built, receive, self.app.config[BODY_PACE_KEY])
            if ended is _BodyEnd.COMPLETE:
                await self._answer(built, send)
            elif ended is not _BodyEnd.CLIENT_LEFT:
                await self._answer_early(built, receive, send)  # 413 or 408, from the route

    async def _receive_body(
        self, built: Request, receive: ASGIReceiveCallable, pace: BodyPace
    ) -> _BodyEnd:
        """Read the body into ``built.body`` as it arrives, until it ends, passes the
        request's size limit (the route's read raises RequestEntityTooLarge), falls behind
        ``pace`` (the route's read raises RequestTimeout), or the client leaves."""
        # No shortcut for requests without Content-Length: HTTP/2 bodies need not declare one.
        body = cast(FailableBody, built.body)  # install() made ChatRequest the request class
        limit = built.max_content_length
        started = trio.current_time()
        size = 0
        with trio.CancelScope(deadline=pace.deadline(started, size)) as waiting:
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return _BodyEnd.CLIENT_LEFT  # http.disconnect
                chunk = message
                body.append(chunk["body"])  # past the limit, the route's read raises
                size += len(chunk["body"])
                if not chunk.get("more_body", False):
                    self._body_ended = True
                    body.set_complete()
                    return _BodyEnd.COMPLETE
                if limit is not None and size > limit:
                    body.set_complete()
                    return _BodyEnd.OVER_LIMIT
                waiting.deadline = pace.deadline(started, size)
        body.fail(RequestTimeout(f"The request body did not arrive in time ({pace.describe()})"))
        return _BodyEnd.TOO_SLOW

    async def _serve_upload(
        self, built: Request, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        """Run the route while the body arrives: it streams the body into the media store."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._receive_upload, built, receive, nursery.cancel_scope)
            await self._answer(built, send)
            nursery.cancel_scope.cancel()

    async def _receive_upload(
        self, built: Request, receive: ASGIReceiveCallable, route: trio.CancelScope
    ) -> None:
        ended = await self._receive_body(built, receive, self.app.config[UPLOAD_PACE_KEY])
        if ended is not _BodyEnd.CLIENT_LEFT:
            await drop_until_disconnect(receive)
        if not self._answering:
            route.cancel()  # the client left first

    async def _answer_early(
        self, built: Request, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        """Answer before the body has all arrived, dropping what the client still sends."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(drop_until_disconnect, receive)
            await self._answer(built, send)
            nursery.cancel_scope.cancel()

    async def _answer(self, built: Request, send: ASGISendCallable) -> None:
        response = await self.app.handle_request(built)
        self._answering = True
        if not self._body_ended and self.scope["http_version"] in _KEPT_ALIVE_VERSIONS:
            # Hypercorn closes a connection whose request body was not read to its end: say so.
            response.headers["Connection"] = "close"
        await self.send_response(send, response)


async def drop_until_disconnect(receive: ASGIReceiveCallable) -> None:
    """Read and drop whatever the client sends until the request's stream ends."""
    while (await receive())["type"] == "http.request":
        pass
