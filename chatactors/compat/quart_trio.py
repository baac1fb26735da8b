"""Every place chatactors reaches into Quart-Trio, and the Quart under it, beyond their public
API: the overrides and the private steps it calls, for Quart-Trio 0.12 on Quart 0.22
(:data:`PINNED`, as pyproject.toml pins them).

docs/UPSTREAM.md lists each one with its reason; ``tests/compat/test_quart_trio.py`` fails if
upstream changes what this module relies on (the signatures overridden or called, the shape of
the code replaced) or if an installed version leaves the pinned range.

**The per-request connection.** Quart builds one ``app.asgi_http_class`` per HTTP request and
awaits it with the request's ASGI ``receive`` and ``send``. Quart-Trio's
(``quart_trio.asgi.TrioASGIHTTPConnection``) ``__call__`` runs ``handle_messages`` (receive the
body) and ``handle_request`` (route, then ``_send_response`` within ``RESPONSE_TIMEOUT``) as two
tasks of a nursery of its own per request. :class:`HTTPConnection` replaces that ``__call__``
with :meth:`HTTPConnection.serve`, which chatactors.web.connection defines (it reads the body
first, in the connection's task: why there), and offers upstream's private steps under names of
its own:

- :meth:`HTTPConnection.build_request` is Quart's
  ``quart.asgi.ASGIHTTPConnection._create_request_from_scope``.
- :meth:`HTTPConnection.send_response` is Quart's ``ASGIHTTPConnection._send_response`` within
  the response's timeout, as upstream's ``handle_request`` sends it, except for an answer whose
  body is already in memory (``quart.wrappers.response.DataBody``, every JSON answer): that
  goes out in two ASGI messages (start, then the whole body as the last) instead of three, and
  without the ``RESPONSE_TIMEOUT`` cancel scope. Hypercorn shields its socket writes from
  cancellation, so that scope cannot interrupt a send anyway; it only bounds streamed bodies
  (files), which keep it. (BENCHMARKS.md has what this saved.)

**The request body.** :class:`FailableBody` is Quart-Trio's body (``quart_trio.wrappers.request.
TrioBody``) that the connection can fail while the route reads it, as Quart fails it itself
when the body passes its size limit: by setting upstream's private ``Body._must_raise``.
Its ``__anext__`` overrides ``quart.wrappers.request.Body.__anext__``, which, woken by the
completion, takes it for the end of the body instead of raising.
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
from quart import Request, Response
from quart.typing import ResponseTypes
from quart.utils import encode_headers
from quart.wrappers.response import DataBody
from quart_trio.asgi import TrioASGIHTTPConnection
from quart_trio.wrappers.request import TrioBody, TrioRequest

#: The versions this module was written and checked against (pyproject.toml's pins).
PINNED = {"quart-trio": ">=0.12,<0.13", "quart": ">=0.22,<0.23"}


class FailableBody(TrioBody):
    """A request body that the connection can fail (too slow) while the route reads it."""

    def fail(self, error: Exception) -> None:
        """The route's next read raises ``error``, as Quart raises its own size limit."""
        self._must_raise = error
        self.set_complete()

    async def __anext__(self) -> bytes:
        try:
            return await super().__anext__()
        except StopAsyncIteration:
            # Quart's iterator, woken by the completion, takes it for the end of the body.
            if self._must_raise is not None:
                raise self._must_raise from None
            raise


class FailableRequest(TrioRequest):
    """Quart-Trio's request with a :class:`FailableBody`."""

    body_class = FailableBody


class HTTPConnection(TrioASGIHTTPConnection):
    """Quart-Trio's per-request connection, served by :meth:`serve` instead of upstream's two
    tasks per request."""

    async def __call__(self, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        # Replaces TrioASGIHTTPConnection.__call__, and so its handle_messages and
        # handle_request, which nothing else calls.
        await self.serve(receive, send)

    async def serve(self, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        """Serve the request: what a subclass does with ``receive`` and ``send``."""
        raise NotImplementedError

    def build_request(self, send: ASGISendCallable) -> Request:
        """The request as Quart builds it from the scope (its body not yet received)."""
        return self._create_request_from_scope(send)

    async def send_response(self, send: ASGISendCallable, response: ResponseTypes) -> None:
        """Send ``response`` (see the module's docstring)."""
        if isinstance(response, Response) and isinstance(response.response, DataBody):
            await _send_data(send, response, response.response)
            return
        # Quart's rule (ASGIHTTPConnection.handle_request): the response's own timeout, if it
        # has one (None: unbounded), else the app's RESPONSE_TIMEOUT.
        timeout = getattr(response, "timeout", ...)
        if timeout is ...:
            timeout = self.app.config["RESPONSE_TIMEOUT"]
        with trio.move_on_after(math.inf if timeout is None else timeout):
            await self._send_response(send, response)


async def _send_data(send: ASGISendCallable, response: Response, body: DataBody) -> None:
    start = {
        "type": "http.response.start",
        "status": response.status_code,
        "headers": encode_headers(response.headers),
    }
    await send(cast(HTTPResponseStartEvent, start))
    last = {"type": "http.response.body", "body": body.data[body.begin : body.end]}
    await send(cast(HTTPResponseBodyEvent, last))
