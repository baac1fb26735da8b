"""The TCP side of serving: accept connections, run Hypercorn's protocol on each, end them all.

Hypercorn's own ``serve`` waits at shutdown until every connection task has ended or its
graceful timeout has passed, and some never end early: a WebSocket's ping loop sleeps a whole
interval after the socket closed, and an idle keep-alive connection waits for its client. Here
the connections run in a nursery of ours, so a shutdown can end them as soon as nothing is in
flight (:class:`InFlight`), whatever idle connections remain.

Each connection is also kept to itself: whatever escapes Hypercorn's protocol on one connection
is logged and ends that connection only. (Hypercorn 0.17-0.18 lets a client end the process: a
bad frame right after the WebSocket handshake makes it close the connection while its keepalive
ping is being sent, and ``trio.BusyResourceError`` escapes; its issues #203 and #225 are of the
same class.) And each WebSocket app gets what ASGI cannot express, an abort of its connection
(scope extension :data:`ABORT_EXTENSION`): Hypercorn shields every write from cancellation, so a
close sent to a peer that stopped reading would wait for as long as the peer does.
"""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Callable
from functools import partial

import attrs
import trio
from hypercorn.config import Config
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import (
    AppWrapper,
    ASGIFramework,
    ASGIReceiveCallable,
    ASGISendCallable,
    ASGISendEvent,
    ConnectionState,
    LifespanState,
    Scope,
)

log = logging.getLogger(__name__)

#: The scope extension of a WebSocket: ``{"abort": callable}`` resets its connection.
ABORT_EXTENSION = "chatactors.abort"
#: SO_LINGER on, zero seconds: close() resets the connection and drops unsent data.
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)


@attrs.define(eq=False)
class InFlight:
    """An ASGI wrapper that counts the work a shutdown must let finish.

    An HTTP request counts until its response's last byte is sent (Quart's handler lives on
    until the client disconnects, which an idle keep-alive client never does); a WebSocket
    counts until its handler returns (it closes the socket with 1001 itself at shutdown).
    """

    app: ASGIFramework
    _count: int = 0
    _idle: trio.Event = attrs.field(factory=trio.Event)

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        self._count += 1
        finished = False

        def finish() -> None:
            nonlocal finished
            if not finished:
                finished = True
                self._count -= 1
                if self._count == 0:
                    self._idle.set()

        async def send_then_count(message: ASGISendEvent) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                finish()

        try:
            await self.app(scope, receive, send_then_count if scope["type"] == "http" else send)
        finally:
            finish()

    async def wait_idle(self) -> None:
        """Return once nothing is in flight."""
        while self._count:
            self._idle = trio.Event()
            await self._idle.wait()


@attrs.define(eq=False)
class Connections:
    """Hypercorn's per-connection protocol over sockets we accept and can end."""

    app: AppWrapper
    config: Config
    lifespan_state: LifespanState
    #: Hypercorn's shared flags; ``terminated`` tells connections to close once idle.
    context: WorkerContext = attrs.field(factory=lambda: WorkerContext(None))
    _streams: set[trio.SocketStream] = attrs.field(factory=set)

    async def serve(
        self, listener: trio.SocketListener, *, task_status: trio.TaskStatus[trio.CancelScope]
    ) -> None:
        """Accept until the scope passed to ``task_status`` is cancelled, then end every
        connection once that scope's owner cancels this task's nursery."""
        async with trio.open_nursery() as handlers:
            with trio.CancelScope() as accepting:
                task_status.started(accepting)
                await trio.serve_listeners(self._handle, [listener], handler_nursery=handlers)
            await listener.aclose()

    async def announce_shutdown(self) -> None:
        """Tell every connection the server is closing: keep-alive connections close after
        their current response, and idle ones at once."""
        await self.context.terminated.set()

    def abort(self) -> None:
        """Close every connection's socket; also wakes a send that Hypercorn shields from
        cancellation (a peer that does not read would otherwise hold it forever)."""
        for stream in list(self._streams):
            stream.socket.close()

    async def _handle(self, stream: trio.SocketStream) -> None:
        self._streams.add(stream)
        try:
            await TCPServer(
                _AbortableApp(self.app, partial(_reset, stream)),
                self.config,
                self.context,
                ConnectionState(self.lifespan_state.copy()),
                stream,  # type: ignore[arg-type]  # Hypercorn's hint says SSLStream; both work
            )
        except* Exception as failure:
            # Cancellation (shutdown) still propagates: except* re-raises what it does not match.
            log.warning("a connection failed inside Hypercorn; closed it: %r", failure.exceptions)
            log.debug("the connection's failure", exc_info=failure)
        finally:
            self._streams.discard(stream)
            with trio.CancelScope(shield=True):
                await stream.aclose()


@attrs.frozen
class _AbortableApp:
    """The app as one connection sees it: its WebSocket scopes carry the abort extension."""

    app: AppWrapper
    abort: Callable[[], None]

    async def __call__(
        self,
        scope: Scope,
        receive: ASGIReceiveCallable,
        send: ASGISendCallable,
        sync_spawn: Callable[..., object],
        call_soon: Callable[..., object],
    ) -> None:
        if scope["type"] == "websocket":
            scope["extensions"] = {**(scope.get("extensions") or {}),
                                   ABORT_EXTENSION: {"abort": self.abort}}  # fmt: skip
        await self.app(scope, receive, send, sync_spawn, call_soon)


def _reset(stream: trio.SocketStream) -> None:
    """Reset the connection; a write blocked on it (even a shielded one) fails at once."""
    sock = stream.socket
    if sock.fileno() != -1:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
        # trio's close() wakes every task waiting on the socket (ClosedResourceError).
        sock.close()
