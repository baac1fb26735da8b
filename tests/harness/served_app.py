"""The production app served by a real Hypercorn on 127.0.0.1 port 0, in this process.

``served_app(settings)`` serves what ``chatactors serve`` serves, as it serves it
(``chatactors.serve.serve_app``, without the signals), and yields a :class:`ServedApp`: its
URLs, an HTTP client, its running services, and a way to stop it as SIGTERM would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import httpx
import trio
import trio_websocket
from quart_trio import QuartTrio

from chatactors.serve import bind_listener, serve_app
from chatactors.settings import Settings
from chatactors.web.app import create_app
from chatactors.web.services import Services, services_of
from tests.harness.clients import WAIT_S, open_socket


def served_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for a served app: SQLite in ``tmp_path``, the bot and pings off."""
    values: dict[str, Any] = {
        "store": "sqlite",
        "data_dir": tmp_path,
        "bot_enabled": False,
        "shutdown_timeout_s": 5.0,
        "ws_ping_interval_s": 0.0,
    }
    values.update(overrides)
    return Settings(**values)


@attrs.define(eq=False)
class ServedApp:
    url: str
    settings: Settings
    http: httpx.AsyncClient
    _stop: trio.Event
    #: The served app, for tests that must reach into it.
    app: QuartTrio

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def services(self) -> Services:
        """The running server's services (its registry, store, statistics)."""
        services = services_of(self.app)
        assert services is not None, "the app is not serving"
        return services

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
        self, path: str, **options: Any
    ) -> AsyncIterator[trio_websocket.WebSocketConnection]:
        async with open_socket(self.ws_url + path, **options) as ws:
            yield ws


@asynccontextmanager
async def served_app(settings: Settings) -> AsyncIterator[ServedApp]:
    """Serve the app for the block on 127.0.0.1, on a free port (whatever ``settings`` say)."""
    listener, settings = bind_listener(attrs.evolve(settings, host="127.0.0.1", port=0))
    app = create_app(settings)
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        with trio.fail_after(WAIT_S):
            url = await nursery.start(serve_app, app, settings, listener, stop)
        async with httpx.AsyncClient(base_url=url, timeout=WAIT_S) as http:
            yield ServedApp(url, settings, http, stop, app)
        stop.set()
