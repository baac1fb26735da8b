"""Every place chatactors reaches into Hypercorn beyond its public API (``hypercorn.config``,
``hypercorn.trio.serve`` and the ASGI types of ``hypercorn.typing``): the overrides and the
internals it builds on, for Hypercorn 0.17-0.18 (:data:`PINNED`, as pyproject.toml pins it).

docs/UPSTREAM.md lists each one with its reason and the fixes worth proposing upstream;
``tests/compat/test_hypercorn.py`` fails if upstream changes what this module relies on (the
names replaced, the signatures called or overridden, the shapes of the code rewritten) or if the
installed version leaves the pinned range.

**The WebSocket stream.** Hypercorn builds one ``hypercorn.protocol.ws_stream.WSStream`` per
WebSocket, by name, in ``hypercorn.protocol.h11`` and ``hypercorn.protocol.h2``; :func:`install`
replaces that name in both with :class:`ChatWSStream`, a subclass (overriding ``WSStream.handle``,
``WSStream._accept`` and ``WSStream.app_send``) that changes these things:

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
  from the task that already sends the socket's frames; upstream runs a task per socket
  (``WSStream._send_pings``) that sleeps between pings (about 4 kB of each idle socket's memory;
  it held a reset connection's descriptor, and a shutdown, until its sleep ended; and its first
  ping could race the close of a connection that sent a bad frame, and end the server with
  ``trio.BusyResourceError``). Serve with ``Config.websocket_ping_interval = None`` so that
  upstream's task is never started.

**The connection.** :class:`ChatTCPServer`, Hypercorn's per-connection server
(``hypercorn.trio.tcp_server.TCPServer``) with ``_read_data`` rewritten, reads without entering a
``fail_after(read_timeout)`` for each read (a generator, a cancel scope and its status, about
0.9 kB of every idle connection, and their cost on every read): one scope per connection, its
deadline moved at each read, does the same. :class:`ConnectionProtocol` runs it on connections
chatactors.connections accepts itself, in place of ``hypercorn.trio.run.worker_serve``, whose
shutdown waits for every connection task (docs/UPSTREAM.md); it holds upstream's shared
``hypercorn.trio.worker_context.WorkerContext`` (whose ``terminated`` flag closes idle
keep-alive connections) and calls a plain ASGI app in Hypercorn's own calling convention.

**The lifespan.** :func:`open_lifespan` runs the app's ASGI lifespan with upstream's
``hypercorn.trio.lifespan.Lifespan``, as ``worker_serve`` does, for a server loop of our own.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, Protocol, cast

import attrs
import hypercorn.protocol.h2
import hypercorn.protocol.h11
import trio
from hypercorn.config import Config
from hypercorn.events import Closed, RawData
from hypercorn.protocol.events import Event, Request
from hypercorn.protocol.ws_stream import ASGIWebsocketState, WSStream
from hypercorn.trio.lifespan import Lifespan
from hypercorn.trio.tcp_server import MAX_RECV, TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import (
    ASGIFramework,
    ASGIReceiveCallable,
    ASGIReceiveEvent,
    ASGISendCallable,
    ASGISendEvent,
    ConnectionState,
    LifespanState,
    Scope,
    WebsocketAcceptEvent,
)
from wsproto.events import Ping

#: The Hypercorn versions this module was written and checked against (pyproject.toml's pin).
PINNED = ">=0.17,<0.19"
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


class PlainStream(Protocol):
    """What ``TCPServer`` needs of a plain (not TLS) connection's stream: it tells TLS from
    plain by ``do_handshake``, which this has not (its hint says ``trio.SSLStream``)."""

    @property
    def socket(self) -> trio.socket.SocketType: ...

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray: ...

    async def send_all(self, data: bytes | bytearray | memoryview) -> None: ...

    async def send_eof(self) -> None: ...

    async def aclose(self) -> None: ...


@attrs.frozen
class _HypercornCalling:
    """A plain ASGI app in the convention Hypercorn calls apps in internally
    (``hypercorn.typing.AppWrapper``: two more arguments, for WSGI), without a coroutine of its
    own: upstream's adapter (``hypercorn.utils.wrap_app``) would be one more coroutine, alive
    for as long as each request or socket."""

    app: ASGIFramework

    def __call__(
        self,
        scope: Scope,
        receive: ASGIReceiveCallable,
        send: ASGISendCallable,
        sync_spawn: Callable[..., object],
        call_soon: Callable[..., object],
    ) -> Coroutine[Any, Any, None]:
        return cast(Coroutine[Any, Any, None], self.app(scope, receive, send))


@attrs.define(eq=False)
class ConnectionProtocol:
    """Hypercorn's HTTP and WebSocket protocol, run on connections accepted elsewhere."""

    config: Config
    #: The lifespan's state (:func:`open_lifespan`); each connection gets a copy.
    lifespan_state: LifespanState
    #: Upstream's flags shared by every connection; ``terminated`` tells them to close once
    #: idle (``max_requests`` None: no recycling after a number of requests).
    _context: WorkerContext = attrs.field(factory=lambda: WorkerContext(None))

    def __attrs_post_init__(self) -> None:
        install()  # its connections' WebSockets are ChatWSStreams

    async def serve(self, app: ASGIFramework, stream: PlainStream) -> None:
        """Serve ``app`` on one connection until it ends (as ``worker_serve`` serves each)."""
        await ChatTCPServer(
            _HypercornCalling(app),
            self.config,
            self._context,
            ConnectionState(self.lifespan_state.copy()),
            stream,  # type: ignore[arg-type]  # its hint says SSLStream; PlainStream says why
        )

    async def announce_shutdown(self) -> None:
        """Tell every connection the server is closing: keep-alive connections close after
        their current response, and idle ones at once."""
        await self._context.terminated.set()


@asynccontextmanager
async def open_lifespan(
    app: ASGIFramework, config: Config, state: LifespanState
) -> AsyncIterator[None]:
    """Run ``app``'s ASGI lifespan: its startup before the body, its shutdown after it (as
    upstream's ``worker_serve`` does around its connections)."""
    lifespan = Lifespan(_HypercornCalling(app), config, state)
    async with trio.open_nursery() as nursery:
        await nursery.start(lifespan.handle_lifespan)
        await lifespan.wait_for_startup()
        yield
        await lifespan.wait_for_shutdown()
        nursery.cancel_scope.cancel()
