"""chatactors.compat.quart_trio against the Quart-Trio and Quart installed: the versions are the
ones pinned, what it replaces or calls still exists in the shape it relies on, and the
replacements do what they say. (The connection built on it is tested through the whole app in
tests/web/test_connection.py, and over real sockets in tests/hardening/test_request_bodies.py.)
"""

from __future__ import annotations

import inspect
from typing import cast

import pytest
import trio
import trio.testing
from hypercorn.typing import ASGISendCallable, HTTPScope
from quart import Quart, Response
from quart.asgi import ASGIHTTPConnection
from quart.utils import encode_headers
from quart.wrappers.request import Body
from quart.wrappers.response import DataBody
from quart_trio import QuartTrio
from quart_trio.asgi import TrioASGIHTTPConnection
from quart_trio.wrappers.request import TrioBody
from werkzeug.datastructures import Headers
from werkzeug.exceptions import RequestTimeout

from chatactors.compat import quart_trio as compat
from tests.compat.upstream import check_pin, parameters

#: Upstream's callables that chatactors.compat.quart_trio overrides (O) or calls (C), with the
#: parameters it was written for.
SIGNATURES = {
    # O: HTTPConnection.__call__, and with it the two steps upstream's __call__ runs.
    TrioASGIHTTPConnection.__call__: "(self, receive, send)",
    TrioASGIHTTPConnection.handle_messages: "(self, nursery, request, receive)",
    TrioASGIHTTPConnection.handle_request: "(self, nursery, request, send)",
    # C: Quart builds the connection (app.asgi_http_class(app, scope)).
    ASGIHTTPConnection.__init__: "(self, app, scope)",
    ASGIHTTPConnection._create_request_from_scope: "(self, send)",  # C: build_request
    ASGIHTTPConnection._send_response: "(self, send, response)",  # C: send_response
    Body.__anext__: "(self)",  # O: FailableBody.__anext__
    Body.append: "(self, data)",  # C: the connection receives the body
    Body.set_complete: "(self)",  # C: the body has all arrived (or failed)
    # C: web/connection.py gives an upload a body with its own limit.
    TrioBody.__init__: "(self, expected_content_length, max_content_length)",
    DataBody.__init__: "(self, data)",  # C: an answer in memory (send_response)
    encode_headers: "(headers)",  # C: send_response's start message
}


@pytest.mark.parametrize("distribution", sorted(compat.PINNED))
def test_the_installed_versions_are_the_ones_pinned_and_checked(distribution: str) -> None:
    check_pin(distribution, compat.PINNED[distribution])


@pytest.mark.parametrize(
    ("function", "recorded"), list(SIGNATURES.items()), ids=lambda x: getattr(x, "__qualname__", "")
)
def test_upstream_signatures_are_the_ones_recorded(function: object, recorded: str) -> None:
    assert parameters(function) == recorded


def test_upstream_still_has_what_the_overrides_rely_on() -> None:
    # Quart builds one connection per request from the app's class, then awaits it.
    assert "self.asgi_http_class(self, scope)" in inspect.getsource(Quart.asgi_app)
    # Quart-Trio's __call__ is the two-task flow HTTPConnection.__call__ replaces.
    replaced = inspect.getsource(TrioASGIHTTPConnection.__call__)
    assert "self._create_request_from_scope(send)" in replaced
    assert "self.handle_messages" in replaced
    assert "self.handle_request" in replaced
    # The timeout rule send_response keeps: the response's own, else RESPONSE_TIMEOUT.
    handle = inspect.getsource(ASGIHTTPConnection.handle_request)
    assert "response.timeout != Ellipsis" in handle
    assert 'self.app.config["RESPONSE_TIMEOUT"]' in handle
    # The private flag FailableBody sets, as Quart does for its own size limit.
    assert TrioBody(None, None)._must_raise is None
    assert "self._must_raise = RequestEntityTooLarge()" in inspect.getsource(Body.append)
    # The fields of an in-memory body that send_response sends from.
    data = DataBody(b"abc")
    assert (data.data, data.begin, data.end) == (b"abc", 0, 3)
    assert encode_headers(Headers({"X-A": "b"})) == [(b"x-a", b"b")]


async def _read_after_failure(body: Body) -> list[bytes]:
    """What a route reading ``body`` gets when the connection fails it mid-wait."""
    read: list[bytes] = []

    async def route() -> None:
        read.extend([chunk async for chunk in body])

    async with trio.open_nursery() as nursery:
        nursery.start_soon(route)
        await trio.testing.wait_all_tasks_blocked()
        body._must_raise = RequestTimeout()
        body.set_complete()
    return read


async def test_upstream_takes_a_failure_while_waiting_for_the_end_of_the_body() -> None:
    """Why FailableBody overrides __anext__: upstream's iterator, woken by the completion,
    ends quietly (a route would store a file cut short). If this starts failing, upstream
    raises by itself and the override can go."""
    assert await _read_after_failure(TrioBody(None, None)) == []


async def test_a_failed_body_raises_on_the_routes_read() -> None:
    with pytest.raises(ExceptionGroup) as caught:  # the route's, through the nursery
        await _read_after_failure(compat.FailableBody(None, None))
    assert caught.group_contains(RequestTimeout)
    body = compat.FailableBody(None, None)
    body.append(b"early")
    body.fail(RequestTimeout())
    with pytest.raises(RequestTimeout):
        await anext(body)


async def test_send_response_sends_a_body_in_memory_in_two_messages() -> None:
    app = QuartTrio(__name__)
    connection = compat.HTTPConnection(app, cast(HTTPScope, {}))
    sent: list[object] = []

    async def send(message: object) -> None:
        sent.append(message)

    async with app.app_context():
        await connection.send_response(cast(ASGISendCallable, send), Response(b"hello", 201))
    assert len(sent) == 2
    assert sent[0]["status"] == 201  # type: ignore[index]
    assert sent[1] == {"type": "http.response.body", "body": b"hello"}
