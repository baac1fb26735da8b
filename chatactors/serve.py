"""Serve the app with Hypercorn's Trio worker until SIGINT or SIGTERM, then shut down cleanly.

On a signal: chat actors stop taking new commands, finish what is queued (so every acknowledged
write is committed), and close their sockets with 1001; Hypercorn stops accepting connections and
waits (bounded) for the open ones; then the store commits what is left and the process exits 0.
"""

from __future__ import annotations

import gc
import logging
import signal
import socket
import sys

import attrs
import trio
from hypercorn.config import Config

from chatactors.listener import serve_app
from chatactors.settings import Settings
from chatactors.web.asgi import create_server
from chatactors.web.lifespan import EXTENSION_KEY, Services

log = logging.getLogger(__name__)


def hypercorn_config(settings: Settings) -> Config:
    config = Config()
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    config.bind = [f"{host}:{settings.port}"]
    config.websocket_ping_interval = settings.ws_ping_interval_s or None
    if settings.ws_ping_interval_s:
        # A live peer answers every ping, so it sends something at least once an interval;
        # a connection silent for much longer is dead (cable pulled, laptop asleep): close it.
        config.read_timeout = int(max(1, settings.ws_ping_interval_s * 2.5))
    config.websocket_max_message_size = settings.ws_max_message_bytes
    config.graceful_timeout = settings.shutdown_timeout_s
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    return config


def tune_garbage_collector(settings: Settings) -> None:
    """Collect once and freeze what start-up made (it lives as long as the process, so scanning
    it again is wasted work), then collect the young generation less often."""
    if settings.gc_gen0_threshold > 0:
        gc.collect()
        gc.freeze()
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(settings.gc_gen0_threshold, older, oldest)


async def collect_garbage_periodically(interval_s: float, stop: trio.Event) -> None:
    """A full collection every ``interval_s`` until ``stop``: what closed connections left in
    cycles goes back, even on a server too quiet to reach the raised young-generation threshold."""
    while True:
        with trio.move_on_after(interval_s):
            await stop.wait()
            return
        gc.collect()


def bind_listener(settings: Settings) -> tuple[socket.socket, Settings]:
    """Bind the listening socket first, so that the real port (for ``--port 0``) is known when
    the app builds absolute URLs (bot media, uploads)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        settings.host, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    listener = socket.socket(family, kind, proto)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(address)
    bound_port = listener.getsockname()[1]
    if settings.port != bound_port:
        settings = attrs.evolve(settings, port=bound_port)
    return listener, settings


async def serve(settings: Settings) -> None:
    listener, settings = bind_listener(settings)
    server = create_server(settings)
    app = server.quart
    config = hypercorn_config(settings)
    config.bind = [f"fd://{listener.fileno()}"]
    stop = trio.Event()

    async def shutdown_trigger() -> None:
        await stop.wait()
        services: Services | None = app.extensions.get(EXTENSION_KEY)
        if services is not None:
            services.begin_shutdown()

    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def wait_for_signal() -> None:
                async for signum in signals:
                    log.info("received %s: shutting down", signal.Signals(signum).name)
                    stop.set()
                    return

            nursery.start_soon(wait_for_signal)
            urls = await nursery.start(
                lambda task_status: serve_app(
                    server,
                    config,
                    shutdown_trigger=shutdown_trigger,
                    task_status=task_status,
                )
            )
            tune_garbage_collector(settings)
            if settings.gc_collect_interval_s > 0:
                nursery.start_soon(
                    collect_garbage_periodically, settings.gc_collect_interval_s, stop
                )
            for url in urls:
                # Tests and scripts read the bound port from this line.
                print(f"Serving on {url}", flush=True)
            await stop.wait()
        log.info("stopped")


def run(settings: Settings) -> int:
    try:
        trio.run(serve, settings)
    except KeyboardInterrupt:
        return 130
    sys.stdout.flush()
    return 0
