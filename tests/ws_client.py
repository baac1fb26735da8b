"""A trio-websocket client for tests that never leaks its TCP socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio_websocket


@asynccontextmanager
async def client_socket(
    url: str, **options: Any
) -> AsyncIterator[trio_websocket.WebSocketConnection]:
    async with trio_websocket.open_websocket_url(url, **options) as ws:
        yield ws
    # trio-websocket 0.12 does not close the TCP stream when the server closed the WebSocket
    # first; the socket would be collected unclosed and trip filterwarnings=error.
    await ws._stream.aclose()
