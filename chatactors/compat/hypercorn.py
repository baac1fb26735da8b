"""What chatactors changes in Hypercorn's WebSocket handling, beyond its configuration.

Hypercorn (0.17-0.18) builds one ``hypercorn.protocol.ws_stream.WSStream`` per WebSocket, by
name, in ``hypercorn.protocol.h11`` and ``hypercorn.protocol.h2``; :func:`install` replaces that
name in both with :class:`ChatWSStream`, a subclass that changes two things:

- **permessage-deflate is never negotiated** (upstream accepts it whenever a client offers it,
  as every browser does). A compressing socket holds zlib state of about 300 kB from its first
  frame on (``benchmarks/socket_churn.py --deflate``: 3,000 browser-like sockets took RSS from
  71 MB to 790 MB, and it stayed), and a frame of 65 kB from a client could inflate to the
  message limit before the limit was checked. Chat frames are small JSON; BENCHMARKS.md has
  what compression would have saved.
- **An app may stop reading**: after ``{"type": STOP_READING_MESSAGE, "on_disconnect": f}``
  the client's messages are dropped instead of queued for the app (which would block the
  connection once the queue is full), and the disconnect calls ``f()`` (synchronously, once)
  instead of being queued; so a socket whose frames mean nothing (a reference client's) needs
  no task waiting to read and drop them.
- **The handshake's headers are dropped once the socket is accepted** (the app has read them).
- **The keepalive ping is the app's to send**, as an ASGI message ``{"type": PING_MESSAGE}``,
  from the task that already sends the socket's frames; upstream runs a task per socket that
  sleeps between pings (about 4 kB of each idle socket's memory, and it held a reset
  connection's descriptor until its sleep ended). Serve with
  ``Config.websocket_ping_interval = None`` so that upstream's task is never started.

:class:`ChatTCPServer`, Hypercorn's per-connection server as chatactors.connections runs it,
reads without entering a ``fail_after(read_timeout)`` for each read (a generator, a cancel scope
and its status, about 0.9 kB of every idle connection, and their cost on every read): one scope
per connection, its deadline moved at each read, does the same.

``tests/compat/test_hypercorn.py`` fails if upstream changes what this relies on: the names
replaced, the request event's fields, the stream's state and send method, the read loop's
shape.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Awaitable, Callable
from typing import Any, cast

import hypercorn.protocol.h2
import hypercorn.protocol.h11
import trio
from hypercorn.events import Closed, RawData
from hypercorn.protocol.events import Event, Request
from hypercorn.protocol.ws_stream import ASGIWebsocketState, WSStream
from hypercorn.trio.tcp_server import MAX_RECV, TCPServer
from hypercorn.typing import ASGIReceiveEvent, ASGISendEvent, WebsocketAcceptEvent
from wsproto.events import Ping

#: The ASGI message an app sends to ping its peer (a ping frame, empty).
PING_MESSAGE = "chatactors.ping"
#: The ASGI message after which the client's messages are dropped, not passed to the app, and
#: its ``on_disconnect`` is called for the disconnect.
STOP_READING_MESSAGE = "chatactors.stop_reading"
_EXTENSIONS_HEADER = b"sec-websocket-extensions"
#: The modules that build a ``WSStream`` by name.
_BUILDERS = (hypercorn.protocol.h11, hypercorn.protocol.h2)


class ChatWSStream(WSStream):
    """Hypercorn's WebSocket stream without compression, pinged by its app, which may stop
    reading."""

    #: Set by STOP_READING_MESSAGE: the app reads nothing more; called at the disconnect.
    _on_disconnect: Callable[[], None] | None = None
    #: Upstream's way to queue a message for the app (``app_put`` is ours once it exists).
    _queue_for_app: Callable[[ASGIReceiveEvent], Awaitable[None]] | None = None

    async def handle(self, event: Event) -> None:
        if isinstance(event, Request):
            # Without the header the handshake offers no extension, so none is accepted; the
            # app still sees every other header.
            headers = [(name, value) for name, value in event.headers
                       if name.lower() != _EXTENSIONS_HEADER]  # fmt: skip
            event = dataclasses.replace(event, headers=headers)
        await super().handle(event)
        if self.app_put is not None and self._queue_for_app is None:
            self._queue_for_app = self.app_put
            self.app_put = self._put

    async def _accept(self, message: WebsocketAcceptEvent) -> None:
        await super()._accept(message)
        # The app reads the handshake's headers before it accepts; kept, a browser's dozen
        # (cookies, user agent) would stay with every socket for its life.
        self.scope["headers"] = []

    async def _put(self, message: ASGIReceiveEvent) -> None:
        assert self._queue_for_app is not None
        if self._on_disconnect is None:
            await self._queue_for_app(message)
        elif message["type"] == "websocket.disconnect":
            self._disconnected()

    def _disconnected(self) -> None:
        on_disconnect, self._on_disconnect = self._on_disconnect, None
        if on_disconnect is not None:
            on_disconnect()

    async def app_send(self, message: ASGISendEvent | None) -> None:
        if message is not None and message["type"] == PING_MESSAGE:
            # Only on an open socket: after a close frame nothing else may be sent.
            if not self.closed and self.state == ASGIWebsocketState.CONNECTED:
                await self._send_wsproto_event(Ping())
            return
        if message is not None and message["type"] == STOP_READING_MESSAGE:
            self._on_disconnect = cast(Any, message)["on_disconnect"]
            if self.closed:  # the disconnect came first
                self._disconnected()
            return
        await super().app_send(message)


class ChatTCPServer(TCPServer):
    """Hypercorn's connection server with one cancel scope for all its reads."""

    async def _read_data(self) -> None:
        # Upstream's loop (0.17-0.18), the same reads, ends and events, with the read timeout
        # as a moving deadline instead of a scope per read.
        timeout_s = self.config.read_timeout or math.inf
        with trio.CancelScope() as reading:
            while True:
                reading.deadline = trio.current_time() + timeout_s
                try:
                    data = await self.stream.receive_some(MAX_RECV)
                except (trio.ClosedResourceError, trio.BrokenResourceError):
                    break
                # Only the wait for data is bounded, as upstream: handling it may wait for the
                # app (a full queue) for as long as that takes.
                reading.deadline = math.inf
                await self.protocol.handle(RawData(bytes(data)))
                if data == b"":
                    break
        await self.protocol.handle(Closed())


def install() -> None:
    """Make every WebSocket Hypercorn serves in this process a :class:`ChatWSStream`."""
    for module in _BUILDERS:
        current: Any = getattr(module, "WSStream", None)
        if current is ChatWSStream:
            continue
        if current is not WSStream:
            raise RuntimeError(
                f"{module.__name__}.WSStream is {current!r}, not Hypercorn's WSStream: "
                "chatactors.compat.hypercorn needs updating for this Hypercorn"
            )
        setattr(module, "WSStream", ChatWSStream)  # noqa: B010  (mypy: h11's name is not re-exported)
