"""The per-request connection (web/connection.py), driven as Hypercorn drives it: raw ASGI.

It reads a body whole before routing (no task of its own per request), answers 408 when the
body does not arrive within its pace (``body_timeout_s``), refuses a declared length over the
limit without waiting for the body, and stops when the client leaves. (Over real sockets:
tests/hardening/test_request_bodies.py.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import orjson
import pytest
import trio
from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, Scope
from quart_trio import QuartTrio

from chatactors.web.app import create_app
from chatactors.web.body_pace import BodyPace
from chatactors.web.connection import BODY_PACE_KEY, UPLOAD_PACE_KEY
from tests.conftest import make_settings
from tests.media import samples


@pytest.fixture
async def app() -> AsyncIterator[QuartTrio]:
    served = create_app(make_settings(max_body_bytes=1000))
    async with served.test_app():
        yield served


async def call(
    app: QuartTrio,
    method: str,
    path: str,
    events: Sequence[dict[str, Any]],
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> list[dict[str, Any]]:
    """One request: ``events`` are what the client sends; after them, it waits forever."""
    scope = {
        "type": "http", "asgi": {"spec_version": "2.1", "version": "3.0"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": b"", "root_path": "", "headers": [(b"host", b"localhost"), *headers],
        "client": ("127.0.0.1", 1234), "server": ("127.0.0.1", 80), "extensions": {},
    }  # fmt: skip
    pending = list(events)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    # Plain dicts on the wire, as Hypercorn sends them; the ASGI types are TypedDicts.
    await app(cast(Scope, scope), cast(ASGIReceiveCallable, receive), cast(ASGISendCallable, send))
    return sent


def body_of(sent: list[dict[str, Any]]) -> tuple[int, Any]:
    status = sent[0]["status"]
    return status, orjson.loads(b"".join(m.get("body", b"") for m in sent[1:]))


def chunk(data: bytes, more: bool = True) -> dict[str, Any]:
    return {"type": "http.request", "body": data, "more_body": more}


async def test_a_body_in_chunks_is_read_whole(app: QuartTrio) -> None:
    sent = await call(
        app, "POST", "/chats",
        [chunk(b'{"participants": '), chunk(b'["alice"'), chunk(b"]}", more=False)],
    )  # fmt: skip
    status, answer = body_of(sent)
    assert status == 200
    assert answer["participants"] == ["alice"]
    # An answer in memory goes out as the start and one last body message.
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert not sent[1].get("more_body", False)


async def test_a_body_that_stops_arriving_is_408(app: QuartTrio) -> None:
    # A real (short) timeout: the app's worker threads do not mix with the mock clock.
    app.config[BODY_PACE_KEY] = BodyPace(timeout_s=0.01)
    with trio.fail_after(10):
        sent = await call(app, "POST", "/chats", [chunk(b'{"participants": ')])
    status, answer = body_of(sent)
    assert status == 408
    assert "in time" in answer["detail"]


async def test_a_body_over_the_limit_without_a_declared_length_is_413(app: QuartTrio) -> None:
    # The client never ends the body: reading stops at the limit.
    sent = await call(app, "POST", "/chats", [chunk(b"[" * 600), chunk(b"[" * 600)])
    status, answer = body_of(sent)
    assert status == 413
    assert "1000 bytes" in answer["detail"]


async def test_nothing_is_answered_to_a_client_that_left(app: QuartTrio) -> None:
    sent = await call(app, "POST", "/chats", [chunk(b"{"), {"type": "http.disconnect"}])
    assert sent == []


def headers_of(sent: list[dict[str, Any]]) -> dict[bytes, bytes]:
    return dict(sent[0]["headers"])


async def test_a_declared_length_over_the_limit_is_413_without_waiting_for_the_body(
    app: QuartTrio,
) -> None:
    # No body event ever comes: an answer that waited for one would never be sent.
    with trio.fail_after(10):
        sent = await call(app, "POST", "/chats", [], [(b"content-length", b"1001")])
    status, answer = body_of(sent)
    assert status == 413
    assert "1000 bytes" in answer["detail"]
    # The body would be read as the next request: the connection ends with this answer.
    assert headers_of(sent)[b"connection"] == b"close"


async def test_a_whole_body_keeps_the_connection(app: QuartTrio) -> None:
    body = b'{"participants": ["alice"]}'
    declared = [(b"content-length", str(len(body)).encode())]
    sent = await call(app, "POST", "/chats", [chunk(body, more=False)], declared)
    assert body_of(sent)[0] == 200
    assert b"connection" not in headers_of(sent)


async def test_an_upload_that_stops_arriving_is_408_from_the_route(app: QuartTrio) -> None:
    app.config[UPLOAD_PACE_KEY] = BodyPace(timeout_s=None, grace_s=0.01, min_bytes_per_s=1e6)
    first = samples.wav(frames=1000)[:1000]
    declared = [(b"content-length", b"100000")]
    with trio.fail_after(10):
        sent = await call(app, "POST", "/media", [chunk(first)], declared)
    status, answer = body_of(sent)
    # Not 200 with the first 1,000 bytes stored as the whole file.
    assert status == 408
    assert "did not arrive in time" in answer["detail"]
    assert headers_of(sent)[b"connection"] == b"close"
