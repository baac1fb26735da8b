"""The few things the chat socket needs from a WebSocket: raw ASGI events as Hypercorn sends them.

Tests speak the same events in process (tests/web/asgi_socket.py) or run a real Hypercorn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol
from urllib.parse import parse_qsl

from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, WebsocketScope

from chatactors.connections import ABORT_EXTENSION


class SocketDisconnected(Exception):
    """The peer went away (raised by ``receive``/``accept`` of the raw transport)."""


class SocketTransport(Protocol):
    @property
    def query(self) -> Mapping[str, str]:
        """The query string; the first value of each key."""
        ...

    @property
    def subprotocols(self) -> Sequence[str]: ...

    async def accept(self, subprotocol: str | None) -> None: ...

    async def send(self, text: str) -> None: ...

    async def receive(self) -> str | bytes: ...

    async def close(self, code: int, reason: str) -> None: ...

    def abort(self) -> None:
        """Drop the connection now, unsent data and all (for a peer that does not read)."""
        ...


class AsgiSocket:
    """A WebSocket as Hypercorn hands it to an ASGI app."""

    def __init__(
        self, scope: WebsocketScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        self._scope = scope
        self._receive = receive
        self._send = send

    @property
    def query(self) -> Mapping[str, str]:
        pairs = parse_qsl(self._scope["query_string"].decode("latin-1"), keep_blank_values=True)
        query: dict[str, str] = {}
        for key, value in pairs:
            query.setdefault(key, value)
        return query

    @property
    def subprotocols(self) -> Sequence[str]:
        return tuple(self._scope.get("subprotocols", ()))

    async def accept(self, subprotocol: str | None) -> None:
        # The server's first message is the connect request; the peer may have left already.
        if (await self._receive())["type"] == "websocket.disconnect":
            raise SocketDisconnected
        await self._send({"type": "websocket.accept", "subprotocol": subprotocol, "headers": []})

    async def send(self, text: str) -> None:
        # After the peer has gone Hypercorn drops what is sent; the reader sees the disconnect.
        await self._send({"type": "websocket.send", "bytes": None, "text": text})

    async def receive(self) -> str | bytes:
        message = await self._receive()
        if message["type"] != "websocket.receive":
            raise SocketDisconnected  # after the connect message, only a disconnect can come
        text = message.get("text")
        if text is not None:
            return str(text)
        return bytes(message.get("bytes") or b"")

    async def close(self, code: int, reason: str) -> None:
        await self._send({"type": "websocket.close", "code": code, "reason": reason})

    def abort(self) -> None:
        # Only the server holds the TCP connection; chatactors.listener offers this to the app.
        extension = self._scope.get("extensions", {}).get(ABORT_EXTENSION)
        if extension is not None:
            extension["abort"]()
