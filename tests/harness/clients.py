"""Clients for a served app or a server process: WebSocket helpers with bounded waits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import trio
import trio_websocket

#: Every wait for a server is bounded by this; a hang fails the test instead of stalling it.
WAIT_S = 10.0


@asynccontextmanager
async def open_socket(
    url: str, **options: Any
) -> AsyncIterator[trio_websocket.WebSocketConnection]:
    """A trio-websocket client (queue of 4096 frames, bounded connect and close) that never
    leaks its TCP socket."""
    options = {
        "message_queue_size": 4096,
        "connect_timeout": WAIT_S,
        "disconnect_timeout": WAIT_S,
        **options,
    }
    async with trio_websocket.open_websocket_url(url, **options) as ws:
        yield ws
    # trio-websocket 0.12 does not close the TCP stream when the server closed the WebSocket
    # first; the socket would be collected unclosed and trip filterwarnings=error.
    await ws._stream.aclose()


async def next_event(
    ws: trio_websocket.WebSocketConnection,
    predicate: Callable[[dict[str, Any]], bool] = lambda event: True,
    *,
    seen: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The next reference-style event that matches, within :data:`WAIT_S`; others go to ``seen``."""
    with trio.fail_after(WAIT_S):
        while True:
            event: dict[str, Any] = orjson.loads(await ws.get_message())
            if predicate(event):
                return event
            if seen is not None:
                seen.append(event)


def is_event(name: str, **data: Any) -> Callable[[dict[str, Any]], bool]:
    def match(event: dict[str, Any]) -> bool:
        return event["event"] == name and all(event["data"].get(k) == v for k, v in data.items())

    return match


async def wait_closed(
    ws: trio_websocket.WebSocketConnection, timeout_s: float = WAIT_S
) -> trio_websocket.CloseReason:
    """Read (and drop) frames until the server closes the socket; its close reason."""
    with trio.fail_after(timeout_s):
        while ws.closed is None:
            try:
                await ws.get_message()
            except trio_websocket.ConnectionClosed:
                break
    reason = ws.closed
    assert reason is not None, "closed without a reason"
    return reason


async def metric(http: httpx.AsyncClient, name: str) -> float:
    """The value of one unlabelled sample (``name`` as exposed, counters ending in ``_total``)
    in the server's ``/metrics``."""
    for line in (await http.get("/metrics")).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")
