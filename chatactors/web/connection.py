"""The ASGI connection of one HTTP request: its body limit, and a cheaper way to answer.

Quart builds one of these per request (``app.asgi_http_class``). Three changes to Quart-Trio's:

- ``POST /media`` gets its own body limit (the largest upload plus room for the multipart
  framing) instead of the app-wide ``MAX_CONTENT_LENGTH``. Quart fixes a request's limit when it
  builds the request, before routing and while the body starts arriving; this is the one place
  where it can be changed without losing bytes.
- An answer whose body is already in memory (every JSON answer) goes out in two ASGI messages
  (start, then the whole body as the last) instead of three, and without the RESPONSE_TIMEOUT
  cancel scope: Hypercorn shields its socket writes from cancellation, so that scope cannot
  interrupt a send anyway; it only bounds streamed bodies (files), which keep it.
- The body (at most MAX_CONTENT_LENGTH, within BODY_TIMEOUT) is read before the route runs,
  in the connection's own task: Quart-Trio opens a nursery with two tasks per request (one
  receives the body, one runs the route) and cancels the route if the client leaves. Every
  route but the upload reads its whole body before doing anything, so nothing is lost but the
  nursery; a route left running after its client is gone is bounded by its own deadline.
  ``POST /media`` streams into the media store as bytes arrive, and keeps Quart-Trio's way.
"""

from __future__ import annotations

import math
from typing import cast

import trio
from hypercorn.typing import (
    ASGIReceiveCallable,
    ASGISendCallable,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
)
from quart.utils import encode_headers
from quart.wrappers import Request, Response
from quart.wrappers.response import DataBody
from quart_trio.asgi import TrioASGIHTTPConnection

from chatactors.web.error_responses import error_response
from chatactors.web.services import MEDIA_PATH

#: The config key of the body limit of ``POST /media`` (set by media_api.install).
UPLOAD_MAX_BYTES_KEY = "CHATACTORS_UPLOAD_MAX_BYTES"


class ChatHTTPConnection(TrioASGIHTTPConnection):
    def _create_request_from_scope(self, send: ASGISendCallable) -> Request:
        built = super()._create_request_from_scope(send)
        if built.method == "POST" and built.path.rstrip("/") == MEDIA_PATH:
            limit: int = self.app.config[UPLOAD_MAX_BYTES_KEY]
            built.max_content_length = limit
            built.body = built.body_class(built.content_length, limit)
        return built

    async def __call__(self, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        request = self._create_request_from_scope(send)
        if request.method == "POST" and request.path.rstrip("/") == MEDIA_PATH:
            # Streamed into the media store while it arrives: Quart-Trio's two tasks.
            await super().__call__(receive, send)
        elif await self._receive_body(request, receive, send):
            await self._answer(request, send)

    async def _receive_body(
        self, request: Request, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> bool:
        """Read the whole body before routing (every other route reads it whole first anyway),
        so that the request needs no task of its own to receive it. False if the client left,
        or was answered 408 for sending too slowly."""
        # No shortcut for requests without Content-Length: HTTP/2 bodies need not declare one.
        body = request.body
        limit: int | None = self.app.config["MAX_CONTENT_LENGTH"]
        size = 0
        timeout = self.app.config["BODY_TIMEOUT"]
        with trio.move_on_after(math.inf if timeout is None else timeout):
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return False  # http.disconnect
                chunk = message
                body.append(chunk["body"])  # past the limit, the route gets RequestEntityTooLarge
                size += len(chunk["body"])
                if not chunk.get("more_body", False) or (limit is not None and size > limit):
                    body.set_complete()
                    return True
        slow = error_response(408, "The request body did not arrive in time")
        await self._send_data(send, slow, cast(DataBody, slow.response))
        return False

    async def handle_request(  # type: ignore[override]
        self, nursery: trio.Nursery, request: Request, send: ASGISendCallable
    ) -> None:
        await self._answer(request, send)
        nursery.cancel_scope.cancel()

    async def _answer(self, request: Request, send: ASGISendCallable) -> None:
        response = await self.app.handle_request(request)
        if isinstance(response, Response) and isinstance(response.response, DataBody):
            await self._send_data(send, response, response.response)
        else:
            timeout = getattr(response, "timeout", ...)
            if timeout is ...:
                timeout = self.app.config["RESPONSE_TIMEOUT"]
            with trio.move_on_after(math.inf if timeout is None else timeout):
                await self._send_response(send, response)

    @staticmethod
    async def _send_data(send: ASGISendCallable, response: Response, body: DataBody) -> None:
        start = {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": encode_headers(response.headers),
        }
        await send(cast(HTTPResponseStartEvent, start))
        last = {"type": "http.response.body", "body": body.data[body.begin : body.end]}
        await send(cast(HTTPResponseBodyEvent, last))
