"""The few things the chat socket needs from a WebSocket, over raw ASGI or through Quart.

Hypercorn serves ``/ws/`` through the raw ASGI transport (web/fast_path.py): a socket then costs
no Quart objects or tasks, which is most of its memory and a share of each frame's CPU. The Quart
transport is what Quart's test client reaches (tests/web); both run the same ``ChatSocket``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol
from urllib.parse import parse_qsl

from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, WebsocketScope
from quart import websocket


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


class QuartSocket:
    """The current Quart ``websocket`` (a disconnect cancels the handler instead of raising)."""

    @property
    def query(self) -> Mapping[str, str]:
        return websocket.args.to_dict()

    @property
    def subprotocols(self) -> Sequence[str]:
        return websocket.requested_subprotocols

    async def accept(self, subprotocol: str | None) -> None:
        await websocket.accept(subprotocol=subprotocol)

    async def send(self, text: str) -> None:
        await websocket.send(text)

    async def receive(self) -> str | bytes:
        return await websocket.receive()

    async def close(self, code: int, reason: str) -> None:
        await websocket.close(code, reason)
