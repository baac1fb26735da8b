"""Hypercorn's keepalive ping racing its own close of a bad connection ends ``serve``.

Run: ``.venv/bin/python docs/upstream/ping_close_race.py`` (127.0.0.1 only, a few seconds).
Prints what happened; exits 0 if the upstream behaviour is reproduced, 1 if not.

With ``websocket_ping_interval`` set, ``WSStream._accept`` starts ``_send_pings``, whose first
ping goes out at once. If the client's first frame is a protocol error (here an unmasked frame),
Hypercorn closes the connection from the reading task: ``TCPServer.protocol_send(Closed())`` ->
``TCPServer._close()`` -> ``stream.send_eof()``, without ``send_lock``. When the ping's
``stream.send_all`` (under ``send_lock``) starts while ``send_eof`` is in progress, trio raises
``BusyResourceError`` in the ping task; ``protocol_send`` catches only ``BrokenResourceError``
and ``ClosedResourceError``, so it escapes the connection's task group, then
``trio.serve_listeners``, and ends ``hypercorn.trio.serve``: one client ends the server and every
other connection. (``_close`` itself already catches ``BusyResourceError`` from ``send_eof``.)

With ``--together`` the handshake and the frame arrive in one segment; h11's
``LocalProtocolError`` ("Can't send data when our state is ERROR") escapes the same way, which
is the class of Hypercorn's issues #203 and #225.

A fix upstream: take ``send_lock`` around ``send_eof`` in ``TCPServer._close`` (and
``_initiate_server_close``), or treat ``BusyResourceError`` in ``protocol_send`` as a closed
connection; and keep one connection's failure to that connection in ``worker_serve``.
chatactors does the last (chatactors/connections.py) and sends its pings from the socket's own
task (chatactors/compat/hypercorn.py), so neither path is reached.
"""

from __future__ import annotations

import functools
import struct
import sys
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

HANDSHAKE = (
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
#: A text frame "hello" without the mask every client frame must have (RFC 6455 5.1).
UNMASKED = struct.pack("!BB", 0x81, 5) + b"hello"
SOCKETS = 200


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The smallest app: lifespan, and WebSockets that read until the disconnect."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    elif scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass


async def bad_client(port: int, together: bool) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        if together:
            await stream.send_all(HANDSHAKE + UNMASKED)
        else:
            await stream.send_all(HANDSHAKE)
            head = b""
            while b"\r\n\r\n" not in head:
                head += await stream.receive_some(4096) or b"\r\n\r\n"
            await stream.send_all(UNMASKED)
        try:
            with trio.move_on_after(5):
                while await stream.receive_some(4096):
                    pass  # until the server closes
        except trio.BrokenResourceError:
            pass


def leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


async def main(together: bool) -> int:
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.websocket_ping_interval = 20.0  # any interval: the first ping goes out at accept
    config.accesslog = None
    failures: list[BaseException] = []

    async def serve_and_record(*, task_status: trio.TaskStatus[list[str]]) -> None:
        try:
            await serve(app, config, task_status=task_status)  # type: ignore[arg-type]
        except BaseException as error:
            # What ended it may come grouped with the cancellation of its other tasks.
            if all(isinstance(leaf, trio.Cancelled) for leaf in leaves(error)):
                raise
            failures.append(error)

    async with trio.open_nursery() as nursery:
        urls = await nursery.start(serve_and_record)
        port = int(urls[0].rsplit(":", 1)[1])
        sent = 0
        while sent < SOCKETS and not failures:
            sent += 1
            try:
                await bad_client(port, together)
            except OSError:
                break  # the server is gone
        nursery.cancel_scope.cancel()
    if failures:
        found = sorted({type(leaf).__name__ for leaf in leaves(failures[0])} - {"Cancelled"})
        print(f"reproduced: hypercorn.trio.serve ended after {sent} bad sockets with {found}")
        return 0
    print(f"not reproduced: the server took {SOCKETS} bad sockets and still serves")
    return 1


if __name__ == "__main__":
    sys.exit(trio.run(functools.partial(main, "--together" in sys.argv)))
