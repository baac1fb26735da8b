"""The fast path answers GET/POST /chats/{id}/messages exactly as the Quart routes do.

Each request goes, as raw ASGI, once to the Quart app and once to the fast path in front of it;
status, body and the headers a client reads must be the same.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import attrs
import orjson
import pytest
import trio
from quart_trio import QuartTrio

from chatactors.settings import Settings
from chatactors.web.app import create_app
from chatactors.web.fast_path import FastPathApp
from tests.conftest import make_settings

COMPARED_HEADERS = (
    b"content-type",
    b"retry-after",
    b"access-control-allow-origin",
    b"access-control-allow-credentials",
    b"vary",
)


@attrs.frozen
class Answer:
    status: int
    headers: dict[bytes, bytes]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)

    def compared(self) -> tuple[int, dict[bytes, bytes], bytes]:
        headers = {k: v for k, v in self.headers.items() if k in COMPARED_HEADERS}
        return self.status, headers, self.body


async def call(
    app: Any, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> Answer:
    """One HTTP request as raw ASGI, the way Hypercorn makes it."""
    url = urlsplit(target)
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    raw_headers.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"spec_version": "2.1", "version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": url.path,
        "raw_path": url.path.encode(),
        "query_string": url.query.encode(),
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "extensions": {},
    }
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with trio.fail_after(5):
        await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Answer(start["status"], {k.lower(): v for k, v in start["headers"]}, content)


@attrs.frozen
class Apps:
    quart: QuartTrio
    fast: FastPathApp

    async def both(self, method: str, target: str, body: bytes = b"", **headers: str) -> Answer:
        by_quart = await call(self.quart, method, target, body, headers)
        by_fast_path = await call(self.fast, method, target, body, headers)
        assert by_fast_path.compared() == by_quart.compared()
        return by_fast_path

    async def chat(self) -> str:
        body = orjson.dumps({"participants": ["alice", "bob"]})
        created: str = (await call(self.quart, "POST", "/chats", body)).json()["chat_id"]
        return created


@pytest.fixture
def fast_settings() -> Settings:
    return make_settings(max_body_bytes=4096, max_id_length=16)


@pytest.fixture
async def apps(fast_settings: Settings) -> AsyncIterator[Apps]:
    quart = create_app(fast_settings)
    async with quart.test_app():
        yield Apps(quart, FastPathApp(quart, fast_settings))


def post_body(**fields: Any) -> bytes:
    return orjson.dumps({"user_id": "alice", "type": "text", "content": "hi", **fields})


async def test_pages_are_the_same(apps: Apps) -> None:
    chat_id = await apps.chat()
    for n in range(5):
        await call(apps.quart, "POST", f"/chats/{chat_id}/messages", post_body(content=f"m{n}"))
    page = await apps.both("GET", f"/chats/{chat_id}/messages")
    assert [m["content"] for m in page.json()] == ["m0", "m1", "m2", "m3", "m4"]
    queries = "limit=2 limit=2&before_seq=4 after_seq=3 limit= limit=0 limit=abc limit=1&limit=2"
    queries += " before_seq=-1 after_seq=x other=1"
    for query in queries.split():
        await apps.both("GET", f"/chats/{chat_id}/messages?{query}")
    await apps.both("GET", f"/chats/{chat_id}/messages/")
    await apps.both("GET", "/chats/nope/messages")
    allowed = await apps.both("GET", f"/chats/{chat_id}/messages", Origin="http://example.test")
    assert allowed.headers[b"access-control-allow-origin"] == b"http://example.test"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 422),
        (b"{not json", 422),
        (b"null", 422),
        (b"[]", 422),
        (b'{"user_id": "alice"}', 422),
        (post_body(type="video"), 422),
        (post_body(content=5), 422),
        (post_body(user_id=""), 422),
        (post_body(user_id="eve"), 403),
        (post_body(client_message_id=""), 422),
        (post_body(client_message_id="x" * 17), 422),
        (post_body(content="/media/" + "0" * 64), 422),
        (post_body(content="x" * 5000), 413),
    ],
)
async def test_bad_sends_are_refused_the_same_way(apps: Apps, body: bytes, status: int) -> None:
    chat_id = await apps.chat()
    refused = await apps.both("POST", f"/chats/{chat_id}/messages", body)
    assert refused.status == status
    assert set(refused.json()) == {"detail"}
    # ... and changed nothing.
    assert (await apps.both("GET", f"/chats/{chat_id}/messages")).json() == []


async def test_unknown_chat_is_404_for_sends(apps: Apps) -> None:
    assert (await apps.both("POST", "/chats/nope/messages", post_body())).status == 404


async def test_sends_answer_the_same_shape(apps: Apps) -> None:
    chat_id = await apps.chat()
    path = f"/chats/{chat_id}/messages"
    by_quart = await call(apps.quart, "POST", path, post_body(client_message_id="c1"))
    by_fast_path = await call(apps.fast, "POST", path, post_body(client_message_id="c2"))
    assert by_quart.status == by_fast_path.status == 200
    assert by_quart.headers[b"content-type"] == by_fast_path.headers[b"content-type"]
    quart_sent, fast_sent = by_quart.json(), by_fast_path.json()
    assert quart_sent["status"] == fast_sent["status"] == "message_sent"
    assert set(quart_sent["message"]) == set(fast_sent["message"])
    assert (quart_sent["message"]["seq"], fast_sent["message"]["seq"]) == (1, 2)
    # An idempotent retry through either path is the same message.
    again = await call(apps.fast, "POST", path, post_body(client_message_id="c1"))
    assert again.json() == quart_sent


async def test_the_fast_path_answers_without_quart(
    apps: Apps, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat_id = await apps.chat()
    calls: list[str] = []
    original = QuartTrio.__call__

    async def counting(self: QuartTrio, scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["path"])
        await original(self, scope, receive, send)

    monkeypatch.setattr(QuartTrio, "__call__", counting)
    await call(apps.fast, "POST", f"/chats/{chat_id}/messages", post_body())
    await call(apps.fast, "GET", f"/chats/{chat_id}/messages")
    assert calls == []
    # Anything else is Quart's.
    await call(apps.fast, "GET", f"/chats/{chat_id}")
    await call(apps.fast, "PUT", f"/chats/{chat_id}/messages")
    assert calls == [f"/chats/{chat_id}", f"/chats/{chat_id}/messages"]


async def test_with_access_control_quart_answers() -> None:
    settings = make_settings(auth_enabled=True, auth_secret="s" * 32)
    quart = create_app(settings)
    async with quart.test_app():
        fast = FastPathApp(quart, settings)
        unauthenticated = await call(fast, "GET", "/chats/any/messages")
        assert unauthenticated.status == 401
        assert unauthenticated.headers[b"www-authenticate"].startswith(b"Bearer")
