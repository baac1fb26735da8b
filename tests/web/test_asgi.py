"""web/asgi.py: which scopes reach the socket handler (werkzeug's routing) and which Quart."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from quart.typing import TestClientProtocol as Client
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from chatactors.web.asgi import SOCKET_ROUTES
from tests.harness.asgi_socket import open_socket


@pytest.mark.parametrize(
    ("path", "chat_id"),
    [("/ws/abc", "abc"), ("/ws/abc/", "abc"), ("/ws/a%20b", "a%20b"), ("/ws/a b", "a b")],
)
def test_chat_socket_paths_match_one_segment(path: str, chat_id: str) -> None:
    endpoint, args = SOCKET_ROUTES.bind("x", url_scheme="ws").match(path, websocket=True)
    assert (endpoint, args) == ("chat_socket", {"chat_id": chat_id})


@pytest.mark.parametrize("path", ["/ws", "/ws/"])
def test_the_bare_path_is_the_user_socket(path: str) -> None:
    endpoint, args = SOCKET_ROUTES.bind("x", url_scheme="ws").match(path, websocket=True)
    assert (endpoint, args) == ("user_socket", {})


@pytest.mark.parametrize("path", ["/ws/a/b", "/wsx/a", "/chats/a/messages"])
def test_other_paths_are_not_chat_sockets(path: str) -> None:
    with pytest.raises(HTTPException):
        SOCKET_ROUTES.bind("x", url_scheme="ws").match(path, websocket=True)


async def test_chat_sockets_are_served_without_quart(
    client: Client, chat_id_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat_id = await chat_id_for()
    monkeypatch.setattr(QuartTrio, "__call__", None)  # any call to Quart would fail
    async with open_socket(client.app, "/ws/nope") as refused:
        assert await refused.close_code() == 4404
    async with open_socket(
        client.app, f"/ws/{chat_id}/?user_id=alice", subprotocols=("chatactors.v1",)
    ) as ws:
        assert ws.subprotocol == "chatactors.v1"
        assert (await ws.receive_json())[0]["event"] == "subscribed"
        await ws.send('{"op": "send", "ref": "a", "content": "hi"}')
        events: list[dict[str, Any]] = []
        while not any(e["event"] == "ack" for e in events):
            events += orjson.loads(await ws.receive())
        assert next(e for e in events if e["event"] == "ack")["data"]["ref"] == "a"
