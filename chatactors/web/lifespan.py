"""The app's serving lifetime: open the store and the registry before serving, close after.

They run in a task of quart-trio's app nursery (started with ``nursery.start``, so serving
begins only once they are up), and are reached from routes through :func:`services`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

import attrs
import trio
from quart import current_app
from quart_trio import QuartTrio

from chatactors.actors.bot_replies import default_bot_replies
from chatactors.actors.registry import ChatRegistry, open_registry
from chatactors.settings import Settings
from chatactors.storage.memory import MemoryStore
from chatactors.storage.postgres import open_postgres_store
from chatactors.storage.sqlite import open_sqlite_store
from chatactors.storage.store import ChatStore
from chatactors.web import media_api

EXTENSION_KEY = "chatactors"


@attrs.define(eq=False)
class Services:
    """What routes need, made once per serving lifetime."""

    settings: Settings
    store: ChatStore
    registry: ChatRegistry
    _stop: trio.Event = attrs.field(factory=trio.Event)
    _stopped: trio.Event = attrs.field(factory=trio.Event)

    def begin_shutdown(self) -> None:
        """Stop taking chat commands; actors finish what is queued and close sockets with 1001."""
        self.registry.begin_shutdown()


def services() -> Services:
    """The running app's services; only valid inside a request or WebSocket handler."""
    found: Services = current_app.extensions[EXTENSION_KEY]
    return found


def open_store(settings: Settings) -> AbstractAsyncContextManager[ChatStore]:
    if settings.store == "memory":

        @asynccontextmanager
        async def memory() -> AsyncIterator[ChatStore]:
            yield MemoryStore()

        return memory()
    if settings.store == "postgres":
        return open_postgres_store(settings.database_url, batch_max=settings.write_batch_max)
    return open_sqlite_store(settings.data_dir, batch_max=settings.write_batch_max)


def bot_asset_urls(settings: Settings) -> dict[str, str]:
    """The bot's bundled files as uploads (media_api imports them into the media store)."""
    return {
        name: f"{settings.base_url}/media/{media_id}"
        for name, media_id in media_api.bot_asset_ids().items()
    }


async def _run_services(
    settings: Settings,
    store: ChatStore | None,
    *,
    task_status: trio.TaskStatus[Services] = trio.TASK_STATUS_IGNORED,
) -> None:
    stopped = trio.Event()
    try:
        async with AsyncExitStack() as stack:
            if store is None:
                store = await stack.enter_async_context(open_store(settings))
            replies = default_bot_replies(bot_asset_urls(settings))
            registry = await stack.enter_async_context(
                open_registry(store, settings, bot_replies=replies)
            )
            running = Services(settings, store, registry, stopped=stopped)
            task_status.started(running)
            await running._stop.wait()
    finally:
        # Set only once the registry and the store have closed (queued writes committed).
        stopped.set()


def install_lifespan(app: QuartTrio, settings: Settings, store: ChatStore | None) -> None:
    @app.before_serving
    async def start_services() -> None:
        app.extensions[EXTENSION_KEY] = await app.nursery.start(_run_services, settings, store)

    @app.after_serving
    async def stop_services() -> None:
        running: Services = app.extensions.pop(EXTENSION_KEY)
        running.begin_shutdown()
        running._stop.set()
        # The registry and the store close on their own task; wait (bounded) until they have.
        with trio.move_on_after(settings.shutdown_timeout_s * 2):
            await running._stopped.wait()
