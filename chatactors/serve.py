"""Serve the app with Hypercorn's protocol on Trio until SIGINT or SIGTERM, then shut down.

If the services stop while serving (web/lifespan.py), the same shutdown runs and the process
exits 1, so that its supervisor starts it again.

On a signal: no new connection is accepted; chat actors stop taking new commands, finish what is
queued (so every acknowledged write is committed) and close their sockets with 1001; requests
under way finish. As soon as nothing is in flight (or ``shutdown_timeout_s`` has passed), the
connections left, all idle, are closed; then the store commits what is left and the process
exits 0. Idle connections never hold the process up (connections.py says why Hypercorn's own
``serve`` would).
"""

from __future__ import annotations

import logging
import math
import resource
import signal
import socket
import sys
from collections.abc import AsyncIterator

import attrs
import trio
from hypercorn.config import Config
from hypercorn.typing import LifespanState
from quart_trio import QuartTrio

from chatactors.compat.hypercorn import ConnectionProtocol, open_lifespan
from chatactors.connections import Connections
from chatactors.memory import reclaim_periodically, tune_garbage_collector
from chatactors.settings import Settings
from chatactors.web.app import create_app
from chatactors.web.asgi import ChatServer
from chatactors.web.metrics import ConnectionsCollector
from chatactors.web.services import services_of

log = logging.getLogger(__name__)


def hypercorn_config(settings: Settings) -> Config:
    config = Config()
    # Used by Hypercorn's own ``serve`` (in-process test servers); ``serve`` below binds itself.
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    config.bind = [f"{host}:{settings.port}"]
    # The sockets ping from their own tasks (chatactors.compat.hypercorn says why): Hypercorn's
    # task per socket for it stays off.
    config.websocket_ping_interval = None
    if settings.ws_ping_interval_s:
        # A live peer answers every ping, so it sends something at least once an interval;
        # a connection silent for much longer is dead (cable pulled, laptop asleep): close it.
        config.read_timeout = int(max(1, settings.ws_ping_interval_s * 2.5))
    config.websocket_max_message_size = settings.ws_max_message_bytes
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    return config


def raise_descriptor_limit() -> None:
    """Raise the soft limit on open files to the hard one: each connection is a descriptor, and
    the common default soft limit (1,024) is a few hundred idle browsers."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard or (hard != resource.RLIM_INFINITY and soft > hard):
        log.info("open files limit %d", soft)
        return
    # An unlimited hard limit is not a valid soft one on every system: a large finite one is.
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 20
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ValueError, OSError) as error:
        log.warning("open files limit %d: could not raise it to %d (%s)", soft, wanted, error)
        return
    log.info("open files limit raised from %d to %d", soft, wanted)


def bind_listener(settings: Settings) -> tuple[socket.socket, Settings]:
    """Bind the listening socket first, so that the real port (for ``--port 0``) is known when
    the app builds absolute URLs (bot media, uploads)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        settings.host, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    listener = socket.socket(family, kind, proto)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if settings.redis_url:
        # Cluster nodes may share the port (``--workers``): the kernel spreads connections.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind(address)
    bound_port = listener.getsockname()[1]
    if settings.port != bound_port:
        settings = attrs.evolve(settings, port=bound_port)
    return listener, settings


async def serve_app(
    app: QuartTrio,
    settings: Settings,
    listener: socket.socket,
    stop: trio.Event,
    *,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on the bound ``listener`` until ``stop`` is set, then shut down (see the
    module's docstring). Passes the server's URL to ``task_status`` once it accepts."""
    config = hypercorn_config(settings)
    server = ChatServer(app)
    lifespan_state: LifespanState = {}
    connections = Connections(
        server,
        ConnectionProtocol(config, lifespan_state),
        write_timeout_s=settings.write_timeout_s or math.inf,
        max_per_client=settings.max_connections_per_client,
    )
    # Quart's before_serving (the services) runs on entering, and after_serving on leaving.
    async with open_lifespan(server, config, lifespan_state):
        if (started := services_of(app)) is not None:
            started.metrics.registry.register(ConnectionsCollector(connections.statistics))
        async with trio.open_nursery() as connections_nursery:
            listener.listen(config.backlog)
            accepting = await connections_nursery.start(
                connections.serve, trio.SocketListener(trio.socket.from_stdlib_socket(listener))
            )
            task_status.started(f"http://{_address(listener)}")
            await stop.wait()
            accepting.cancel()
            await connections.announce_shutdown()
            running = services_of(app)
            if running is not None:
                running.registry.begin_shutdown()
            # Sockets are closing with 1001 and requests finishing; once none is left,
            # whatever connections remain are idle and end now, not at the timeout.
            with trio.move_on_after(settings.shutdown_timeout_s):
                await connections.in_flight.wait_idle()
            connections_nursery.cancel_scope.cancel()
            connections.abort()


def _address(listener: socket.socket) -> str:
    host, port = listener.getsockname()[:2]
    return f"[{host}]:{port}" if listener.family == socket.AF_INET6 else f"{host}:{port}"


async def serve(settings: Settings) -> bool:
    """Serve until SIGINT or SIGTERM (returns False) or until the services stop by themselves
    (returns True: the process must exit non-zero)."""
    raise_descriptor_limit()
    listener, settings = bind_listener(settings)
    failed = trio.Event()
    app = create_app(settings, on_services_failure=failed.set)
    stop = trio.Event()
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            url = await nursery.start(serve_app, app, settings, listener, stop)
            tune_garbage_collector(settings.gc_gen0_threshold)
            if settings.gc_collect_interval_s > 0:
                nursery.start_soon(reclaim_periodically, settings.gc_collect_interval_s, stop)
            # Tests and scripts read the bound port from this line.
            print(f"Serving on {url}", flush=True)
            async with trio.open_nursery() as waiting:
                waiting.start_soon(_until_signal, signals, waiting.cancel_scope)
                waiting.start_soon(_until_set, failed, waiting.cancel_scope)
            if failed.is_set():
                log.critical("the services stopped while serving: shutting down (exit status 1)")
            stop.set()
    log.info("stopped")
    return failed.is_set()


async def _until_signal(signals: AsyncIterator[int], done: trio.CancelScope) -> None:
    async for signum in signals:
        log.info("received %s: shutting down", signal.Signals(signum).name)
        break
    done.cancel()


async def _until_set(event: trio.Event, done: trio.CancelScope) -> None:
    await event.wait()
    done.cancel()


def run(settings: Settings) -> int:
    try:
        failed = trio.run(serve, settings)
    except KeyboardInterrupt:
        return 130
    sys.stdout.flush()
    return 1 if failed else 0
