"""Hypercorn's Trio worker, with every connection's failures kept to that connection.

``hypercorn.trio.serve`` runs each connection's ``TCPServer`` straight in the server's nursery,
so an exception that escapes one connection ends the whole process and drops every other
socket. Hypercorn 0.17-0.18 has such a bug within reach of any client: a bad frame right after
the WebSocket handshake makes it close the connection while its keepalive ping is being sent,
and ``trio.BusyResourceError`` escapes (its issues #203 and #225 are of the same class). This
is ``hypercorn.trio.run.worker_serve`` for plain TCP listeners, with one change: each
connection runs in :func:`_serve_connection`, which logs and drops what the connection raises.
Start-up, lifespan, the shutdown trigger and the graceful timeout behave as Hypercorn's.

It also lends each WebSocket app the one thing ASGI cannot express: an abort of the connection
(scope extension :data:`ABORT_EXTENSION`). Hypercorn shields every write from cancellation, so
a close sent to a peer that stopped reading waits for as long as the peer does; aborting resets
the connection and discards what it could not send.
"""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Awaitable, Callable
from functools import partial

import attrs
import trio
from hypercorn.config import Config
from hypercorn.trio.lifespan import Lifespan
from hypercorn.trio.statsd import StatsdLogger
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import (
    AppWrapper,
    ASGIFramework,
    ASGIReceiveCallable,
    ASGISendCallable,
    ConnectionState,
    LifespanState,
    Scope,
)
from hypercorn.utils import ShutdownError, raise_shutdown, repr_socket_addr, wrap_app

log = logging.getLogger(__name__)

#: The scope extension of a WebSocket: ``{"abort": callable}`` resets its connection.
ABORT_EXTENSION = "chatactors.abort"
#: SO_LINGER on, zero seconds: close() resets the connection and drops unsent data.
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)


async def serve_app(
    app: ASGIFramework,
    config: Config,
    *,
    shutdown_trigger: Callable[[], Awaitable[None]] | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``config.bind`` until ``shutdown_trigger`` returns (plain TCP only).

    Reports the bound URLs through ``task_status``, as ``hypercorn.trio.serve`` does.
    """
    wrapped = wrap_app(app, config.wsgi_max_body_size, "asgi")
    config.set_statsd_logger_class(StatsdLogger)
    state: LifespanState = {}
    lifespan = Lifespan(wrapped, config, state)
    context = WorkerContext(None)
    async with trio.open_nursery() as lifespan_nursery:
        await lifespan_nursery.start(lifespan.handle_lifespan)
        await lifespan.wait_for_startup()
        async with trio.open_nursery() as connections:
            sockets = config.create_sockets()
            if sockets.secure_sockets or sockets.quic_sockets:
                raise ValueError("serve_app serves plain TCP only; terminate TLS in front")
            listeners = []
            binds = []
            for sock in sockets.insecure_sockets:
                sock.listen(config.backlog)
                listeners.append(trio.SocketListener(trio.socket.from_stdlib_socket(sock)))
                binds.append(f"http://{repr_socket_addr(sock.family, sock.getsockname())}")
            task_status.started(binds)
            handler = partial(
                _serve_connection, wrapped, config, context, ConnectionState(state.copy())
            )
            try:
                async with trio.open_nursery() as nursery:
                    if shutdown_trigger is not None:
                        nursery.start_soon(raise_shutdown, shutdown_trigger)
                    nursery.start_soon(raise_shutdown, context.terminate.wait)
                    nursery.start_soon(
                        partial(
                            trio.serve_listeners, handler, listeners, handler_nursery=connections
                        )
                    )
            except* (ShutdownError, KeyboardInterrupt):
                pass
            finally:
                await context.terminated.set()
                connections.cancel_scope.deadline = trio.current_time() + config.graceful_timeout
        await lifespan.wait_for_shutdown()
        lifespan_nursery.cancel_scope.cancel()


async def _serve_connection(
    app: AppWrapper,
    config: Config,
    context: WorkerContext,
    state: ConnectionState,
    stream: trio.SocketStream,
) -> None:
    """Hypercorn's handling of one connection; whatever it raises ends this connection only."""
    try:
        abortable = _AbortableApp(app, partial(_abort, stream))
        await TCPServer(abortable, config, context, state, stream)  # type: ignore[arg-type]
    except* Exception as failure:
        # Cancellation (shutdown) still propagates: except* re-raises what it does not match.
        log.warning(
            "a connection failed inside Hypercorn; closed it, serving the others: %r",
            failure.exceptions,
        )
        log.debug("the connection's failure", exc_info=failure)
    finally:
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


def _abort(stream: trio.SocketStream) -> None:
    """Reset the connection; a write blocked on it (even a shielded one) fails at once."""
    sock = stream.socket
    if sock.fileno() != -1:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
        # trio's close() wakes every task waiting on the socket (ClosedResourceError).
        sock.close()
