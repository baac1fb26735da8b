"""The ASGI connection of one HTTP request: its body limit, and a cheaper way to answer.

Quart builds one of these per request (``app.asgi_http_class``). Two changes to Quart-Trio's:

- ``POST /media`` gets its own body limit (the largest upload plus room for the multipart
  framing) instead of the app-wide ``MAX_CONTENT_LENGTH``. Quart fixes a request's limit when it
  builds the request, before routing and while the body starts arriving; this is the one place
  where it can be changed without losing bytes.
- An answer whose body is already in memory (every JSON answer) goes out in two ASGI messages
  (start, then the whole body as the last) instead of three, and without the RESPONSE_TIMEOUT
  cancel scope: Hypercorn shields its socket writes from cancellation, so that scope cannot
  interrupt a send anyway; it only bounds streamed bodies (files), which keep it.
"""

from __future__ import annotations

import math
from typing import cast

import trio
from hypercorn.typing import ASGISendCallable, HTTPResponseBodyEvent, HTTPResponseStartEvent
from quart.utils import encode_headers
from quart.wrappers import Request, Response
from quart.wrappers.response import DataBody
from quart_trio.asgi import TrioASGIHTTPConnection

#: The config key of the body limit of ``POST /media`` (set by media_api.install).
UPLOAD_MAX_BYTES_KEY = "CHATACTORS_UPLOAD_MAX_BYTES"
UPLOAD_PATH = "/media"


class ChatHTTPConnection(TrioASGIHTTPConnection):
    def _create_request_from_scope(self, send: ASGISendCallable) -> Request:
        built = super()._create_request_from_scope(send)
        if built.method == "POST" and built.path.rstrip("/") == UPLOAD_PATH:
            limit: int = self.app.config[UPLOAD_MAX_BYTES_KEY]
            built.max_content_length = limit
            built.body = built.body_class(built.content_length, limit)
        return built

    async def handle_request(  # type: ignore[override]
        self, nursery: trio.Nursery, request: Request, send: ASGISendCallable
    ) -> None:
        response = await self.app.handle_request(request)
        if isinstance(response, Response) and isinstance(response.response, DataBody):
            await self._send_data(send, response, response.response)
        else:
            timeout = getattr(response, "timeout", ...)
            if timeout is ...:
                timeout = self.app.config["RESPONSE_TIMEOUT"]
            with trio.move_on_after(math.inf if timeout is None else timeout):
                await self._send_response(send, response)
        nursery.cancel_scope.cancel()

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
