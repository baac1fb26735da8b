"""A real Hypercorn serving the real app on 127.0.0.1 port 0, in this process, and its clients."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import attrs
import httpx
import orjson
import trio
import trio_websocket
from hypercorn.trio import serve as hypercorn_serve
from quart_trio import QuartTrio

from chatactors.serve import hypercorn_config
from chatactors.settings import Settings
from chatactors.web.app import create_app
from chatactors.web.fast_path import FastPathApp
from chatactors.web.lifespan import EXTENSION_KEY, Services

#: Every wait for the server is bounded by this; a hang fails the test instead of stalling it.
WAIT_S = 10.0


@attrs.define(eq=False)
class Served:
    base_url: str
    settings: Settings
    http: httpx.AsyncClient
    _stop: trio.Event
    _app: QuartTrio | None = None

    @property
    def services(self) -> Services:
        """The running server's services (to read its statistics)."""
        assert self._app is not None
        services: Services = self._app.extensions[EXTENSION_KEY]
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
    app = create_app(settings)
    config = hypercorn_config(settings)
    config.bind = ["127.0.0.1:0"]
    # What chatactors.serve serves: the fast path in front of the Quart app.
    asgi_app = FastPathApp(app, settings)
    stop = trio.Event()

    async def shutdown_trigger() -> None:
        # The same order as chatactors.serve: actors stop (sockets get 1001), then Hypercorn.
        await stop.wait()
        services: Services | None = app.extensions.get(EXTENSION_KEY)
        if services is not None:
            services.begin_shutdown()

    async with trio.open_nursery() as nursery:
        with trio.fail_after(WAIT_S):
            urls = await nursery.start(
                functools.partial(
                    hypercorn_serve, asgi_app, config, shutdown_trigger=shutdown_trigger
                )
            )
        async with httpx.AsyncClient(base_url=urls[0], timeout=WAIT_S) as http:
            yield Served(urls[0], settings, http, stop, app)
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
