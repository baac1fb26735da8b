"""A real Hypercorn serving the real app on 127.0.0.1 port 0, in this process, and its clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import attrs
import httpx
import orjson
import trio
import trio_websocket
from quart_trio import QuartTrio

from chatactors.serve import bind_listener, serve_app
from chatactors.settings import Settings
from chatactors.web.app import create_app
from chatactors.web.services import Services, services_of

#: Every wait for the server is bounded by this; a hang fails the test instead of stalling it.
WAIT_S = 10.0


@attrs.define(eq=False)
class Served:
    base_url: str
    settings: Settings
    http: httpx.AsyncClient
    _stop: trio.Event
    #: The served app, for tests that must reach its services (say, its store).
    app: QuartTrio

    @property
    def services(self) -> Services:
        """The running server's services (to read its statistics)."""
        services = services_of(self.app)
        assert services is not None
        return services

    @property
    def ws_url(self) -> str:
        return "ws" + self.base_url.removeprefix("http")

    def stop(self) -> None:
        """Shut down as ``chatactors serve`` does on SIGTERM."""
        self._stop.set()

    async def new_chat(self, *users: str) -> str:
        response = await self.http.post("/chats", json={"participants": list(users)})
        response.raise_for_status()
        chat_id: str = response.json()["chat_id"]
        return chat_id

    async def post(self, chat_id: str, user: str, content: str, **extra: Any) -> dict[str, Any]:
        response = await self.http.post(
            f"/chats/{chat_id}/messages",
            json={"user_id": user, "type": "text", "content": content, **extra},
        )
        response.raise_for_status()
        message: dict[str, Any] = response.json()["message"]
        return message

    @asynccontextmanager
    async def socket(
        self, path: str, *, subprotocols: list[str] | None = None
    ) -> AsyncIterator[trio_websocket.WebSocketConnection]:
        async with trio_websocket.open_websocket_url(
            self.ws_url + path,
            subprotocols=subprotocols,
            message_queue_size=4096,
            connect_timeout=WAIT_S,
            disconnect_timeout=WAIT_S,
        ) as ws:
            yield ws
        # trio-websocket 0.12 never closes the TCP stream of a client whose server closed the
        # WebSocket first (it waits for the server's TCP close, then forgets the socket), which
        # leaks a socket and trips filterwarnings=error. Closing it again is harmless.
        await ws._stream.aclose()


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Served]:
    """What ``chatactors serve`` serves, as it serves it (without the signals)."""
    listener, settings = bind_listener(settings)
    app = create_app(settings)
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        with trio.fail_after(WAIT_S):
            url = await nursery.start(serve_app, app, settings, listener, stop)
        async with httpx.AsyncClient(base_url=url, timeout=WAIT_S) as http:
            yield Served(url, settings, http, stop, app)
        stop.set()


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


async def wait_closed(ws: trio_websocket.WebSocketConnection) -> trio_websocket.CloseReason:
    """Read (and drop) frames until the server closes the socket; its close reason."""
    with trio.fail_after(WAIT_S):
        while True:
            try:
                await ws.get_message()
            except trio_websocket.ConnectionClosed as closed:
                return closed.reason
