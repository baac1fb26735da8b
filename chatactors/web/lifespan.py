"""The app's serving lifetime: build :class:`Services` before serving, close it after.

Everything is opened in one task of quart-trio's app nursery (started with ``nursery.start``,
so serving begins only once it is all up) and closed there in reverse order when serving ends:
the registry first (actors finish what is queued, sockets get 1001), then the stores.

If the services stop while serving, unasked (a bug no part contained), requests are answered
503 from then on and the app's ``on_services_failure`` is called: ``serve`` then stops the
process with a non-zero status, so that its supervisor (systemd, Docker, Kubernetes,
``--workers``) starts it again, instead of a process that runs on and answers every request with
an error.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

import trio
from quart_trio import QuartTrio

from chatactors.actors.bot import open_bot, seeded_random
from chatactors.actors.bot_replies import BOT_ASSETS, default_bot_replies
from chatactors.actors.registry import open_registry
from chatactors.cluster.node import open_cluster_node
from chatactors.cluster.rate_limits import ClusterRateLimiter
from chatactors.domain.models import MessageType
from chatactors.settings import Settings
from chatactors.storage.media.store import open_media_store
from chatactors.storage.memory import MemoryStore
from chatactors.storage.postgres import open_postgres_store
from chatactors.storage.sqlite import open_sqlite_store
from chatactors.storage.store import ChatStore
from chatactors.web.bot_assets import import_bot_assets
from chatactors.web.metrics import open_web_metrics
from chatactors.web.rate_limit import RateLimiter, SendLimiter
from chatactors.web.services import SERVICES_KEY, Media, Services

log = logging.getLogger(__name__)
#: Stable pictures by name on the public service the reference's bot images come from.
HTTPS_IMAGE_BASE = "https://picsum.photos/seed/chatactors-"


def open_store(settings: Settings) -> AbstractAsyncContextManager[ChatStore]:
    if settings.store == "memory":

        @asynccontextmanager
        async def memory() -> AsyncIterator[ChatStore]:
            yield MemoryStore()

        return memory()
    if settings.store == "postgres":
        return open_postgres_store(
            settings.database_url,
            batch_max=settings.write_batch_max,
            queue_size=settings.write_queue_size,
            timeout_s=settings.store_timeout_s,
        )
    return open_sqlite_store(
        settings.data_dir,
        batch_max=settings.write_batch_max,
        queue_size=settings.write_queue_size,
        timeout_s=settings.store_timeout_s,
    )


def bot_asset_urls(media: Media) -> dict[str, str]:
    """The URL of each of the bot's files: served here, or (``bot_images="https"``) public
    https images like the reference's, which Next.js's image component accepts."""
    urls = {name: media.url(media_id) for name, media_id in media.bot_assets.items()}
    if media.settings.bot_images == "https":
        for name in urls:
            if BOT_ASSETS[name] is MessageType.IMAGE:
                urls[name] = f"{HTTPS_IMAGE_BASE}{name.rsplit('.', 1)[0]}/640/480"
    elif media.settings.bot_enabled and not media.settings.base_url.startswith("https://"):
        log.info(
            "the bot's images are served from %s/media/; frontends built on Next.js's <Image> "
            "accept only https hosts: run with --bot-images https (README: For frontend "
            "developers)",
            media.settings.base_url,
        )
    return urls


@asynccontextmanager
async def open_services(
    settings: Settings, store: ChatStore | None = None
) -> AsyncIterator[Services]:
    """Everything routes and sockets use; ``store`` replaces the configured chat store."""
    async with AsyncExitStack() as stack:
        if store is None:
            store = await stack.enter_async_context(open_store(settings))
        # memory: no durable chats, so no durable files either (a temporary directory).
        media_root = None if settings.store == "memory" else settings.data_dir / "media"
        media_store = await stack.enter_async_context(open_media_store(media_root))
        media = Media(media_store, settings, await import_bot_assets(media_store))
        # Cluster mode: the node opens the registry, inside its own lifetime (docs/CLUSTER.md).
        node = None
        if settings.redis_url:
            node = await stack.enter_async_context(open_cluster_node(settings, store))
            registry = node.registry
        else:
            registry = await stack.enter_async_context(open_registry(store, settings))
        if settings.bot_enabled:
            # The bot is a client of the registry: it subscribes to each chat that starts.
            bot = await stack.enter_async_context(
                open_bot(
                    registry,
                    default_bot_replies(bot_asset_urls(media)),
                    delay_min_s=settings.bot_delay_min_s,
                    delay_max_s=settings.bot_delay_max_s,
                    random_for=seeded_random(settings.bot_seed),
                )
            )
            registry.on_activation(bot.activated)
        limiter: SendLimiter | None = None
        if settings.auth_enabled:
            limiter = RateLimiter(
                settings.rate_limit_per_s,
                settings.rate_limit_burst,
                trio.current_time,
                max_users=settings.rate_limit_max_users,
            )
            if node is not None:
                # One limit for the cluster; this process's buckets gate and stand in for it.
                limiter = ClusterRateLimiter(
                    node.link, settings.rate_limit_per_s, settings.rate_limit_burst, limiter,
                    fallback_s=settings.rate_limit_fallback_s,
                )  # fmt: skip
        metrics = open_web_metrics(registry, node)
        yield Services(settings, store, registry, media, metrics, limiter, node)


async def _serve_services(
    settings: Settings,
    store: ChatStore | None,
    stop: trio.Event,
    stopped: trio.Event,
    on_failure: Callable[[], None],
    *,
    task_status: trio.TaskStatus[Services] = trio.TASK_STATUS_IGNORED,
) -> None:
    serving = False
    try:
        async with open_services(settings, store) as running:
            task_status.started(running)
            serving = True
            await stop.wait()
    except BaseException as error:
        if not serving or stop.is_set() or _cancelled(error):
            raise  # failing to start, or while stopping: reported as such
        log.critical(
            "the services stopped while serving; the process exits so that it is started again",
            exc_info=error,
        )
        on_failure()
    finally:
        # Set only once the registry and the stores have closed (queued writes committed).
        stopped.set()


def _cancelled(error: BaseException) -> bool:
    if isinstance(error, BaseExceptionGroup):
        return all(_cancelled(each) for each in error.exceptions)
    return isinstance(error, trio.Cancelled)


def install_lifespan(
    app: QuartTrio,
    settings: Settings,
    store: ChatStore | None,
    on_failure: Callable[[], None] | None = None,
) -> None:
    # One (stop, stopped) pair per serving lifetime (an app may be served more than once).
    lifetime: list[tuple[trio.Event, trio.Event]] = []

    def failed() -> None:
        # Routes answer 503 ("not serving") from now on; ``serve`` ends the process.
        app.extensions.pop(SERVICES_KEY, None)
        if on_failure is not None:
            on_failure()

    @app.before_serving
    async def start_services() -> None:
        stop, stopped = trio.Event(), trio.Event()
        lifetime.append((stop, stopped))
        app.extensions[SERVICES_KEY] = await app.nursery.start(
            _serve_services, settings, store, stop, stopped, failed
        )

    @app.after_serving
    async def stop_services() -> None:
        running: Services | None = app.extensions.pop(SERVICES_KEY, None)
        if running is not None:
            running.registry.begin_shutdown()
        stop, stopped = lifetime.pop()
        stop.set()
        # The services close on their own task; wait (bounded) until they have.
        with trio.move_on_after(settings.services_close_timeout_s):
            await stopped.wait()
