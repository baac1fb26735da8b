"""The few things the chat socket needs from a WebSocket: raw ASGI events as Hypercorn sends them.

Tests speak the same events in process (tests/harness/asgi_socket.py) or run a real Hypercorn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, cast
from urllib.parse import parse_qsl

from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, ASGISendEvent, WebsocketScope

from chatactors.compat.hypercorn import PING_MESSAGE, STOP_READING_MESSAGE
from chatactors.connections import CONNECTION_EXTENSION


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

    async def ping(self) -> None:
        """Send a ping frame (the peer answers with a pong: it is alive, and so is the path)."""
        ...

    def abort(self) -> None:
        """Drop the connection now, unsent data and all (for a peer that does not read)."""
        ...

    def bound_writes(self, timeout_s: float) -> None:
        """From now on, a frame the peer takes longer than ``timeout_s`` to read ends the
        connection (a close to a peer that does not read)."""
        ...

    async def stop_reading(self, on_disconnect: Callable[[], None]) -> bool:
        """Drop whatever the peer sends from now on, and call ``on_disconnect`` (synchronously)
        when the peer goes away, so that no task need wait in ``receive`` to learn it. False if
        the transport cannot: then ``receive`` is the way to learn of the end."""
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

    async def ping(self) -> None:
        # Not an ASGI message: ChatWSStream (chatactors.compat.hypercorn) understands it.
        await self._send(cast(ASGISendEvent, {"type": PING_MESSAGE}))

    def abort(self) -> None:
        # Only the server holds the TCP connection; chatactors.connections offers this.
        extension = self._scope.get("extensions", {}).get(CONNECTION_EXTENSION)
        if extension is not None:
            extension["abort"]()

    def bound_writes(self, timeout_s: float) -> None:
        extension = self._scope.get("extensions", {}).get(CONNECTION_EXTENSION)
        if extension is not None:
            extension["bound_writes"](timeout_s)

    async def stop_reading(self, on_disconnect: Callable[[], None]) -> bool:
        if CONNECTION_EXTENSION not in self._scope.get("extensions", {}):
            return False  # not served by chatactors.connections: no ChatWSStream either
        # Not an ASGI message: ChatWSStream (chatactors.compat.hypercorn) understands it.
        message = {"type": STOP_READING_MESSAGE, "on_disconnect": on_disconnect}
        await self._send(cast(ASGISendEvent, message))
        return True
