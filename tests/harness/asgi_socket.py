"""A WebSocket client that speaks ASGI events to the app in process, as Hypercorn does.

The app is web/asgi.py's ``ChatServer`` (the one production serves) around a Quart test app
whose lifespan is running. Events go in and out through memory channels, so tests may use
the mock clock; a disconnect is the ``websocket.disconnect`` event Hypercorn sends.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import attrs
import orjson
import trio
from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, Scope
from quart import Quart
from quart_trio import QuartTrio

from chatactors.compat.hypercorn import PING_MESSAGE, STOP_READING_MESSAGE
from chatactors.connections import CONNECTION_EXTENSION
from chatactors.web.asgi import ChatServer
from tests.harness.clients import WAIT_S


class SocketClosed(Exception):
    """The app closed the socket (``code``, ``reason``)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


@attrs.define(eq=False)
class AsgiTestSocket:
    _to_app: trio.MemorySendChannel[dict[str, Any]]
    _from_app: trio.MemoryReceiveChannel[dict[str, Any]]
    subprotocol: str | None = None
    #: Pings the app sent (frames a browser answers by itself; ``receive`` skips them).
    pings: int = 0
    #: The app reads nothing more; what it wants called at the disconnect instead.
    on_disconnect: Callable[[], None] | None = None

    async def send(self, data: str | bytes) -> None:
        key = "text" if isinstance(data, str) else "bytes"
        await self._to_app.send({"type": "websocket.receive", key: data})

    async def receive(self) -> str | bytes:
        """The next frame the app sent; raises ``SocketClosed`` once it closed the socket."""
        with trio.fail_after(WAIT_S):
            message = await self._from_app.receive()
        if message["type"] == "websocket.close":
            raise SocketClosed(message.get("code", 1000), message.get("reason") or "")
        assert message["type"] == "websocket.send", message
        data: str | bytes = message.get("text") or message.get("bytes") or b""
        return data

    async def receive_json(self) -> Any:
        return orjson.loads(await self.receive())

    async def close_code(self) -> int:
        """Read (and drop) frames until the app closes the socket; its close code."""
        while True:
            try:
                await self.receive()
            except SocketClosed as closed:
                return closed.code

    async def disconnect(self, code: int = 1006) -> None:
        """The peer goes away (Hypercorn's event for a closed or broken connection, and the
        connection's end for an app that stopped reading)."""
        if self.on_disconnect is not None:
            self.on_disconnect()  # as ChatWSStream does for an app that stopped reading
        else:
            await self._to_app.send({"type": "websocket.disconnect", "code": code})


@asynccontextmanager
async def open_socket(
    app: Quart, path: str, *, subprotocols: tuple[str, ...] = ()
) -> AsyncIterator[AsgiTestSocket]:
    """Open ``path`` on ``ChatServer(app)``; the peer disconnects when the block ends."""
    assert isinstance(app, QuartTrio), "ChatServer serves a Quart-Trio app"
    route, _, query = path.partition("?")
    to_app_send, to_app_receive = trio.open_memory_channel[dict[str, Any]](math.inf)
    from_app_send, from_app_receive = trio.open_memory_channel[dict[str, Any]](math.inf)
    socket = AsgiTestSocket(to_app_send, from_app_receive)

    def abort() -> None:
        if socket.on_disconnect is not None:
            socket.on_disconnect()
        else:
            to_app_send.send_nowait({"type": "websocket.disconnect", "code": 1006})

    def bound_writes(timeout_s: float) -> None:
        """Writes to this memory channel never block: there is nothing to bound."""

    async def from_app(message: dict[str, Any]) -> None:
        """What the app sends; ChatWSStream's own messages are taken as it takes them."""
        if message["type"] == PING_MESSAGE:
            socket.pings += 1
        elif message["type"] == STOP_READING_MESSAGE:
            socket.on_disconnect = message["on_disconnect"]
        else:
            await from_app_send.send(message)

    scope: dict[str, Any] = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": route,
        "raw_path": route.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "subprotocols": list(subprotocols),
        "extensions": {
            "websocket.http.response": {},
            CONNECTION_EXTENSION: {"abort": abort, "bound_writes": bound_writes},
        },
    }
    await to_app_send.send({"type": "websocket.connect"})
    async with trio.open_nursery() as nursery:
        # Plain dicts on the wire, as Hypercorn sends them; the ASGI types are TypedDicts.
        nursery.start_soon(
            ChatServer(app),
            cast(Scope, scope),
            cast(ASGIReceiveCallable, to_app_receive.receive),
            cast(ASGISendCallable, from_app),
        )
        with trio.fail_after(WAIT_S):
            first = await from_app_receive.receive()
        assert first["type"] == "websocket.accept", first
        socket.subprotocol = first.get("subprotocol")
        yield socket
        await socket.disconnect(1000)
