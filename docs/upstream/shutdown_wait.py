"""Hypercorn's ``serve`` waits at shutdown for connections that are gone, idle, or never told.

Run: ``.venv/bin/python docs/upstream/shutdown_wait.py [PING_INTERVAL_S GRACEFUL_TIMEOUT_S]``
(127.0.0.1 only; 5 and 8 s by default, so about 25 s). Prints what happened; exits 0 if the
upstream behaviour is reproduced, 1 if not.

At the shutdown trigger, ``hypercorn.trio.run.worker_serve`` stops accepting, sets
``context.terminated`` (an idle keep-alive connection's timer, ``TCPServer._idle_timeout``,
closes it at once) and waits for every connection task to end, up to ``graceful_timeout``; only
then does it run the app's lifespan shutdown. Three kinds of connection hold it:

1. **A WebSocket that has already closed**: its ``WSStream._send_pings`` loop
   (``while not self.closed: ping; await sleep(websocket_ping_interval)``) sleeps out the rest
   of its interval before it sees the close, and the connection's task group (and its
   descriptor, when the peer reset it) waits for it. ``serve`` returns up to one ping interval
   late, whatever the shutdown.
2. **An open WebSocket**: nothing tells it (ASGI has no shutdown event for a connection, and
   the lifespan shutdown comes only after the connections), so ``serve`` sits out the whole
   ``graceful_timeout`` and then drops the connection: the client gets no close frame (no 1001
   "going away") to tell a restart from a failure.
3. **An idle keep-alive connection after a Quart-Trio answer**: the answer's last body message
   ends Hypercorn's stream, which, inside that ``send`` and so in the app's task, restarts the
   idle timer (``TrioSingleTask.restart``: ``nursery.start``, a checkpoint); it also sends the
   app ``http.disconnect``, on which Quart-Trio's ``handle_messages`` cancels the request's
   nursery, ``handle_request`` and its ``send`` included. The restart is cancelled, the idle
   timer never runs again: the connection outlives ``keep_alive_timeout`` for as long as its
   client keeps it, and holds a shutdown for the whole ``graceful_timeout``.

Fixes worth proposing upstream: wake the ping loop when the stream closes (sleep in a cancel
scope that the close cancels); at ``terminated``, close open WebSockets with 1001 and send the
app its ``websocket.disconnect`` (as ``_idle_timeout`` closes idle keep-alive connections);
restart the idle timer outside the app's task, or shielded (Hypercorn), and let a disconnect that
arrives after the answer has ended cancel nothing (Quart-Trio). chatactors serves its own accept
loop (chatactors/connections.py) that ends every connection as soon as nothing is in flight, has
its app close its sockets with 1001 before that, pings from each socket's own task
(chatactors/compat/hypercorn.py), and answers in the connection's own task without cancelling
it on the answer's disconnect (chatactors/web/connection.py).
"""

from __future__ import annotations

import functools
import struct
import sys
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from quart_trio import QuartTrio

HANDSHAKE = (
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
#: A close frame with code 1000, masked with a zero key (as a client must mask).
CLOSE = struct.pack("!BBI", 0x88, 0x82, 0) + struct.pack("!H", 1000)
KEEP_ALIVE_TIMEOUT_S = 1.0


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
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


quart_app = QuartTrio(__name__)


@quart_app.get("/")
async def index() -> str:
    return "ok"


async def upgraded(port: int) -> trio.SocketStream:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(HANDSHAKE)
    head = b""
    while b"\r\n\r\n" not in head:
        head += await stream.receive_some(4096)
    return stream


async def answered(port: int) -> trio.SocketStream:
    """A connection that has had one answer (``ok``) and is kept alive."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = b""
    while not answer.endswith(b"\r\n\r\nok"):
        answer += await stream.receive_some(4096)
    return stream


async def read_to_the_end(stream: trio.SocketStream) -> bytes:
    received = b""
    try:
        while chunk := await stream.receive_some(4096):
            received += chunk
    except trio.BrokenResourceError:
        pass
    return received


async def shutdown_with(
    case: int, ping_interval_s: float, graceful_timeout_s: float
) -> tuple[float, bool]:
    """Seconds from the shutdown trigger to ``serve``'s return, with a connection of ``case``
    (the module's docstring) open at the trigger; and whether the connection showed the rest of
    its case (2: its client got no close frame; 3: it outlived ``keep_alive_timeout``)."""
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.websocket_ping_interval = ping_interval_s
    config.graceful_timeout = graceful_timeout_s
    config.keep_alive_timeout = KEEP_ALIVE_TIMEOUT_S
    config.accesslog = None
    stop = trio.Event()
    app: Any = quart_app if case == 3 else asgi_app
    shown = True
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(
            functools.partial(serve, app, config, shutdown_trigger=stop.wait)
        )
        port = int(urls[0].rsplit(":", 1)[1])
        if case == 1:
            stream = await upgraded(port)
            await stream.send_all(CLOSE)
            await read_to_the_end(stream)  # the server's close frame, then the end
            await stream.aclose()
        elif case == 2:
            stream = await upgraded(port)
        else:
            stream = await answered(port)
            with trio.move_on_after(KEEP_ALIVE_TIMEOUT_S * 3):
                await read_to_the_end(stream)
                shown = False  # closed by its keep-alive timeout
        stop.set()
        triggered = trio.current_time()
        if case == 2:
            shown = (await read_to_the_end(stream))[:1] != b"\x88"
    return trio.current_time() - triggered, shown


async def main(ping_interval_s: float, graceful_timeout_s: float) -> int:
    reproduced = 0
    late_s, _ = await shutdown_with(1, ping_interval_s, graceful_timeout_s)
    print(f"1. a WebSocket closed before the shutdown: serve returned {late_s:.1f} s after "
          f"the trigger (ping interval {ping_interval_s:g} s)")  # fmt: skip
    # The ping went out at accept, a moment before the trigger: nearly its whole sleep is left.
    reproduced += late_s > ping_interval_s / 2
    late_s, no_close_frame = await shutdown_with(2, ping_interval_s, graceful_timeout_s)
    print(f"2. a WebSocket open at the shutdown: serve returned {late_s:.1f} s after the trigger "
          f"(graceful_timeout {graceful_timeout_s:g} s); its client got "
          f"{'no close frame' if no_close_frame else 'a close frame'}")  # fmt: skip
    reproduced += late_s > graceful_timeout_s / 2 and no_close_frame
    late_s, outlived = await shutdown_with(3, ping_interval_s, graceful_timeout_s)
    print(f"3. a keep-alive connection after a Quart-Trio answer, "
          f"{'still open' if outlived else 'closed'} {KEEP_ALIVE_TIMEOUT_S * 3:g} s later "
          f"(keep_alive_timeout {KEEP_ALIVE_TIMEOUT_S:g} s): serve returned {late_s:.1f} s "
          "after the trigger")  # fmt: skip
    reproduced += late_s > graceful_timeout_s / 2 and outlived
    print("reproduced" if reproduced == 3 else f"not reproduced ({reproduced} of 3)")
    return 0 if reproduced == 3 else 1


if __name__ == "__main__":
    ping_s, graceful_s = (float(arg) for arg in (sys.argv[1:] or ["5", "8"]))
    sys.exit(trio.run(main, ping_s, graceful_s))
