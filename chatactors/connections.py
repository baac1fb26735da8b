"""The TCP side of serving: accept connections, run Hypercorn's protocol on each, end them all.

Hypercorn's own ``serve`` waits at shutdown until every connection task has ended or its
graceful timeout has passed, and some never end early: an idle keep-alive connection waits for
its client. Here the connections run in a nursery of ours, so a shutdown can end them as soon as
nothing is in flight (:class:`InFlight`), whatever idle connections remain.

Each connection is kept to itself: whatever escapes Hypercorn's protocol on one connection is
logged and ends that connection only. (Hypercorn 0.17-0.18 lets a client end the process: a bad
frame right after the WebSocket handshake makes it close the connection while its keepalive ping
is being sent, and ``trio.BusyResourceError`` escapes; its issues #203 and #225 are of the same
class. docs/UPSTREAM.md has these and the shutdown's waits, with reproductions.) Each runs over
a :class:`ConnectionStream`, which bounds every write (Hypercorn shields its writes from
cancellation, so a peer that stops reading would otherwise hold a task, a descriptor and the
unsent data for as long as it likes) and gives a reset connection's descriptor back at once.
Each WebSocket app gets what ASGI cannot express, through the scope extension
:data:`CONNECTION_EXTENSION`: an abort of its connection, and a tighter bound on its writes (for
a close).

Accepting is bounded too: at most ``max_per_client`` connections from one address at once (0:
no bound), and when the process runs out of descriptors (EMFILE), connections waiting in the
listen backlog are reset rather than left hanging, while the connections already open are
served as usual; accepting resumes as soon as descriptors are free again.
"""

from __future__ import annotations

import collections
import errno
import logging
import math
import os
import socket
import struct
from collections.abc import Callable

import attrs
import trio
from hypercorn.typing import (
    ASGIFramework,
    ASGIReceiveCallable,
    ASGISendCallable,
    ASGISendEvent,
    Scope,
)

from chatactors.compat import hypercorn as hypercorn_compat

log = logging.getLogger(__name__)

#: The scope extension of a WebSocket: ``{"abort": f(), "bound_writes": f(seconds)}``
#: (``ConnectionStream``'s methods of the same names).
CONNECTION_EXTENSION = "chatactors.connection"
#: SO_LINGER on, zero seconds: close() resets the connection and drops unsent data.
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)
#: accept() failing for want of descriptors or memory: the process is full, not broken.
_OUT_OF_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
#: While out of descriptors with nothing to reset, how long to wait before accepting again.
_FULL_RETRY_S = 0.1
#: ... and how often to say so in the log.
_FULL_LOG_EVERY_S = 10.0


@attrs.define(eq=False)
class InFlight:
    """Counts the work a shutdown must let finish.

    An HTTP request counts until its response's last byte is sent (Quart's handler lives on
    until the client disconnects, which an idle keep-alive client never does); a WebSocket
    counts until its handler returns (it closes the socket with 1001 itself at shutdown).
    """

    _count: int = 0
    _idle: trio.Event = attrs.field(factory=trio.Event)

    def begin(self) -> Callable[[], None]:
        """Count one more; the function returned counts it done (once, however often called)."""
        self._count += 1
        finished = False

        def finish() -> None:
            nonlocal finished
            if not finished:
                finished = True
                self._count -= 1
                if self._count == 0:
                    self._idle.set()

        return finish

    async def wait_idle(self) -> None:
        """Return once nothing is in flight."""
        while self._count:
            self._idle = trio.Event()
            await self._idle.wait()


@attrs.frozen
class ConnectionsStatistics:
    """A snapshot of :meth:`Connections.statistics`."""

    #: Connections open now.
    open: int
    #: Connections reset at once because their address had ``max_per_client`` open already.
    refused_per_client: int
    #: Connections reset unserved from the listen backlog while out of descriptors.
    shed_out_of_descriptors: int
    #: Connections reset because their peer read nothing for ``write_timeout_s``.
    write_timeouts: int


@attrs.define(eq=False)
class Connections:
    """Hypercorn's per-connection protocol over sockets we accept and can end."""

    app: ASGIFramework
    #: Hypercorn's protocol, run on each connection.
    protocol: hypercorn_compat.ConnectionProtocol
    #: The requests and sockets under way, which a shutdown lets finish.
    in_flight: InFlight = attrs.field(factory=InFlight)
    #: A write the peer reads nothing of for this long resets the connection.
    write_timeout_s: float = 30.0
    #: Connections open at once from one address, at most (0: no bound).
    max_per_client: int = 0
    _streams: set[ConnectionStream] = attrs.field(factory=set)
    _per_client: collections.Counter[str] = attrs.field(factory=collections.Counter)
    _refused_per_client: int = 0
    _shed: int = 0
    _write_timeouts: int = 0
    #: No new warning about running out of descriptors before this (trio time).
    _quiet_until: float = -math.inf

    def statistics(self) -> ConnectionsStatistics:
        return ConnectionsStatistics(
            open=len(self._streams),
            refused_per_client=self._refused_per_client,
            shed_out_of_descriptors=self._shed,
            write_timeouts=self._write_timeouts,
        )

    async def serve(
        self, listener: trio.SocketListener, *, task_status: trio.TaskStatus[trio.CancelScope]
    ) -> None:
        """Accept until the scope passed to ``task_status`` is cancelled, then end every
        connection once that scope's owner cancels this task's nursery."""
        async with trio.open_nursery() as handlers, listener:
            with trio.CancelScope() as accepting:
                task_status.started(accepting)
                with _Reserve() as reserve:
                    await self._accept(listener, reserve, handlers)

    async def announce_shutdown(self) -> None:
        """Tell every connection the server is closing: keep-alive connections close after
        their current response, and idle ones at once."""
        await self.protocol.announce_shutdown()

    def abort(self) -> None:
        """Close every connection's socket; also wakes a send that Hypercorn shields from
        cancellation (a peer that does not read would otherwise hold it forever)."""
        for stream in list(self._streams):
            stream.socket.close()

    async def _accept(
        self, listener: trio.SocketListener, reserve: _Reserve, handlers: trio.Nursery
    ) -> None:
        while True:
            try:
                stream = await listener.accept()
            except OSError as error:
                if error.errno not in _OUT_OF_DESCRIPTORS:
                    raise
                await self._shed_one(listener, reserve, error)
                continue
            handlers.start_soon(self._handle, stream)

    async def _shed_one(
        self, listener: trio.SocketListener, reserve: _Reserve, error: OSError
    ) -> None:
        """Out of descriptors: reset the oldest connection waiting in the backlog (its client
        learns at once, rather than after its own timeout), using the descriptor kept in
        reserve for this."""
        now = trio.current_time()
        if now >= self._quiet_until:  # once per shortage, then every so often while it lasts
            self._quiet_until = now + _FULL_LOG_EVERY_S
            log.warning(
                "accept failed (%s, %s open connections): resetting waiting connections until "
                "descriptors are free",
                errno.errorcode.get(error.errno or 0, error),
                len(self._streams),
            )
        if reserve.release():
            shed = False
            try:
                # The backlog has a connection waiting (that is why accept ran out): this
                # accept returns at once, and the bound is only for a connection that left.
                with trio.move_on_after(_FULL_RETRY_S):
                    _reset((await listener.accept()).socket)
                    self._shed += 1
                    shed = True
            except OSError:
                pass  # out of descriptors again (another task took the reserve's)
            reserve.acquire()
            if shed:
                # Accept again at once: the next connection waiting is served if descriptors
                # came free meanwhile, or reset too. A full backlog (hundreds) drains in
                # moments, rather than one reset per pause.
                return
        await trio.sleep(_FULL_RETRY_S)

    async def _handle(self, accepted: trio.SocketStream) -> None:
        try:
            client = str(accepted.socket.getpeername()[0])
        except OSError:  # reset before it was served
            _reset(accepted.socket)
            return
        if self.max_per_client and self._per_client[client] >= self.max_per_client:
            self._refused_per_client += 1
            if self._refused_per_client % 1000 == 1:
                log.warning("%s has %d connections open: refusing more (max_connections_per_"
                            "client)", client, self._per_client[client])  # fmt: skip
            _reset(accepted.socket)
            return
        stream = ConnectionStream(accepted, self.write_timeout_s)
        self._streams.add(stream)
        self._per_client[client] += 1
        try:
            await self.protocol.serve(_ConnectionApp(self.app, stream, self.in_flight), stream)
        except* Exception as failure:
            # Cancellation (shutdown) still propagates: except* re-raises what it does not match.
            log.warning("a connection failed inside Hypercorn; closed it: %r", failure.exceptions)
            log.debug("the connection's failure", exc_info=failure)
        finally:
            self._streams.discard(stream)
            self._per_client[client] -= 1
            if not self._per_client[client]:
                del self._per_client[client]
            if stream.timed_out:
                self._write_timeouts += 1
            with trio.CancelScope(shield=True):
                await stream.aclose()


@attrs.define(eq=False)
class ConnectionStream:
    """One accepted TCP connection, as Hypercorn's protocol uses it (a
    :class:`~chatactors.compat.hypercorn.PlainStream`), with our bounds."""

    _stream: trio.SocketStream
    #: A write the peer reads nothing of for this long resets the connection.
    write_timeout_s: float
    #: The connection was reset because a write timed out.
    timed_out: bool = False
    #: The scope of the write under way.
    _writing: trio.CancelScope | None = None

    @property
    def socket(self) -> trio.socket.SocketType:
        return self._stream.socket

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        try:
            return await self._stream.receive_some(max_bytes)
        except trio.BrokenResourceError:
            # Reset by the peer: nothing more will be read or written. Hypercorn closes the
            # socket only once every task of the connection has ended; its descriptor is
            # free now (trio wakes whatever waits on it).
            self._stream.socket.close()
            raise

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        # Hypercorn shields this call from cancellation; this scope is inside the shield.
        with trio.move_on_after(self.write_timeout_s) as writing:
            self._writing = writing
            await self._stream.send_all(data)
        self._writing = None
        if writing.cancelled_caught:
            self.timed_out = True
            self.reset()
            raise trio.BrokenResourceError(f"the peer read nothing for {self.write_timeout_s} s")

    async def send_eof(self) -> None:
        await self._stream.send_eof()

    async def aclose(self) -> None:
        await self._stream.aclose()

    def bound_writes(self, timeout_s: float) -> None:
        """From now on, a write taking longer than ``timeout_s`` resets the connection; the
        write under way, if any, too."""
        self.write_timeout_s = min(self.write_timeout_s, timeout_s)
        if self._writing is not None:
            deadline = trio.current_time() + timeout_s
            self._writing.deadline = min(self._writing.deadline, deadline)

    def reset(self) -> None:
        """Reset the connection; a write blocked on it (even a shielded one) fails at once."""
        _reset(self._stream.socket)


@attrs.frozen
class _ConnectionApp:
    """The app as one connection sees it: its WebSocket scopes carry the connection extension,
    and its work is counted in flight."""

    app: ASGIFramework
    stream: ConnectionStream
    in_flight: InFlight

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        finish = self.in_flight.begin()
        try:
            if scope["type"] == "websocket":
                extension = {"abort": self.stream.reset,
                             "bound_writes": self.stream.bound_writes}  # fmt: skip
                scope["extensions"] = {**(scope.get("extensions") or {}),
                                       CONNECTION_EXTENSION: extension}  # fmt: skip
                await self.app(scope, receive, send)
                return

            async def send_then_count(message: ASGISendEvent) -> None:
                await send(message)
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    finish()

            await self.app(scope, receive, send_then_count)
        finally:
            finish()


class _Reserve:
    """A descriptor held back for the moment the process has none left (see ``_shed_one``)."""

    def __init__(self) -> None:
        self._fd: int | None = None

    def __enter__(self) -> _Reserve:
        self.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self.release()

    def acquire(self) -> None:
        if self._fd is None:
            try:
                self._fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                self._fd = None  # none free even for this: retried at the next shortage

    def release(self) -> bool:
        """Give the descriptor back to the process; False if none was held."""
        if self._fd is None:
            return False
        os.close(self._fd)
        self._fd = None
        return True


def _reset(sock: trio.socket.SocketType) -> None:
    """Reset the connection; a write blocked on it (even a shielded one) fails at once."""
    if sock.fileno() != -1:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
        # trio's close() wakes every task waiting on the socket (ClosedResourceError).
        sock.close()
