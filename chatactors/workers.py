"""``chatactors serve --workers N``: N server processes on one port, each a cluster node.

The parent binds the port with ``SO_REUSEPORT`` (holding it, never listening, so that
``--port 0`` resolves to one port for all), starts N children that bind the same port the same
way (the kernel spreads new connections over them, as Hypercorn's own workers do), prints the
``Serving on`` line once all of them serve, restarts a child that dies, and on SIGINT/SIGTERM
passes SIGTERM on and waits for every child's orderly shutdown. Each child is an ordinary
cluster node (``redis_url`` is required): chats are shared through Redis and the store.
"""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys
from collections.abc import Sequence

import trio

from chatactors.serve import bind_listener
from chatactors.settings import Settings

log = logging.getLogger(__name__)
SERVING = re.compile(rb"Serving on (\S+)")
#: A child that dies is started again after this pause (a crash loop stays cheap).
RESTART_DELAY_S = 1.0


def worker_command(settings: Settings, serve_args: Sequence[str], index: int) -> list[str]:
    """The child's command line: the parent's flags, then one worker on the resolved port."""
    command = [sys.executable, "-m", "chatactors", "serve", *serve_args,
               "--workers", "1", "--port", str(settings.port)]  # fmt: skip
    if settings.node_id:
        command += ["--node-id", f"{settings.node_id}-{index}"]
    return command


async def _wait_serving(stdout: trio.abc.ReceiveStream) -> str:
    seen = b""
    while (match := SERVING.search(seen)) is None:
        chunk = await stdout.receive_some()
        if not chunk:
            raise RuntimeError("a worker exited before serving")
        seen += chunk
    return match.group(1).decode()


async def _drain(stdout: trio.abc.ReceiveStream) -> None:
    while await stdout.receive_some():
        pass


async def _terminate_when(stopping: trio.Event, process: trio.Process) -> None:
    await stopping.wait()
    process.send_signal(signal.SIGTERM)


async def _run_worker(
    command: list[str],
    stopping: trio.Event,
    index: int,
    *,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run one child until ``stopping``; start it again if it dies before."""
    while True:
        process = await trio.lowlevel.open_process(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE
        )
        assert process.stdout is not None
        try:
            url = await _wait_serving(process.stdout)
            task_status.started(url)
            task_status = trio.TASK_STATUS_IGNORED
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_drain, process.stdout)
                nursery.start_soon(_terminate_when, stopping, process)
                code = await process.wait()
                nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                if process.returncode is None:
                    process.kill()
                    await process.wait()
                await process.stdout.aclose()
        if stopping.is_set():
            return
        log.error("worker %d exited with %s; starting it again", index, code)
        await trio.sleep(RESTART_DELAY_S)


async def serve_workers(settings: Settings, serve_args: Sequence[str]) -> None:
    holder, settings = bind_listener(settings)  # the port, resolved once, held for our life
    stopping = trio.Event()
    try:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async with trio.open_nursery() as nursery:
                urls = [
                    await nursery.start(
                        _run_worker, worker_command(settings, serve_args, i), stopping, i
                    )
                    for i in range(1, settings.workers + 1)
                ]
                log.info("%d workers serve on one port", len(urls))
                print(f"Serving on {urls[0]}", flush=True)
                async for signum in signals:
                    log.info("received %s: stopping the workers", signal.Signals(signum).name)
                    break
                stopping.set()
    finally:
        holder.close()
    log.info("stopped")


def run_workers(settings: Settings, serve_args: Sequence[str]) -> int:
    try:
        trio.run(serve_workers, settings, serve_args)
    except KeyboardInterrupt:
        return 130
    return 0
