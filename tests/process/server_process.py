"""``python -m chatactors serve`` as a child process on 127.0.0.1 port 0, and ways to stop it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import httpx
import trio
import trio_websocket

#: Starting the interpreter and the app, or stopping it, must take less than this.
START_S = 30.0
STOP_S = 20.0
SERVING = re.compile(rb"Serving on (http://127\.0\.0\.1:\d+)")


@attrs.define(eq=False)
class ServerProcess:
    process: trio.Process
    base_url: str
    log_path: Path

    @property
    def ws_url(self) -> str:
        return "ws" + self.base_url.removeprefix("http")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs at all."""
        self.process.send_signal(signal.SIGKILL)
        with trio.fail_after(STOP_S):
            await self.process.wait()

    async def terminate(self) -> int:
        """SIGTERM, then wait (bounded) for the exit; returns the exit code."""
        self.process.send_signal(signal.SIGTERM)
        with trio.fail_after(STOP_S):
            return await self.process.wait()


async def _read_base_url(stdout: trio.abc.ReceiveStream) -> str:
    seen = b""
    while (match := SERVING.search(seen)) is None:
        chunk = await stdout.receive_some()
        if not chunk:
            raise RuntimeError(f"the server exited before serving; stdout: {seen!r}")
        seen += chunk
    return match.group(1).decode()


@asynccontextmanager
async def server_process(
    data_dir: Path,
    log_path: Path,
    *,
    bot: bool = False,
    extra: tuple[str, ...] = (),
    database_url: str | None = None,
) -> AsyncIterator[ServerProcess]:
    """Start the server over SQLite in ``data_dir`` (or over PostgreSQL at ``database_url``);
    on exit, SIGKILL it if still running."""
    store = ("--store", "sqlite") if database_url is None else (
        "--store", "postgres", "--database-url", database_url)  # fmt: skip
    command = [
        sys.executable, "-m", "chatactors", "serve",
        "--host", "127.0.0.1", "--port", "0",
        *store, "--data-dir", str(data_dir),
        "--bot-enabled" if bot else "--no-bot-enabled",
        "--bot-delay-min-s", "0", "--bot-delay-max-s", "0",
        "--shutdown-timeout-s", "5",
        *extra,
    ]  # fmt: skip
    with log_path.open("ab") as log_file:
        process = await trio.lowlevel.open_process(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log_file
        )
    try:
        assert process.stdout is not None
        with trio.fail_after(START_S):
            base_url = await _read_base_url(process.stdout)
        yield ServerProcess(process, base_url, log_path)
    finally:
        if process.returncode is None:
            process.kill()
            with trio.move_on_after(STOP_S):
                await process.wait()
        if process.stdout is not None:
            await process.stdout.aclose()


def http_client(server: ServerProcess) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.base_url, timeout=STOP_S)


@asynccontextmanager
async def open_socket(url: str) -> AsyncIterator[trio_websocket.WebSocketConnection]:
    async with trio_websocket.open_websocket_url(
        url, message_queue_size=4096, connect_timeout=START_S, disconnect_timeout=STOP_S
    ) as ws:
        yield ws
    # trio-websocket 0.12 leaves the TCP stream open when the server closed first.
    await ws._stream.aclose()


async def wait_closed(ws: trio_websocket.WebSocketConnection) -> int:
    """Read (and drop) frames until the socket closes; its close code."""
    with trio.fail_after(STOP_S):
        while True:
            try:
                await ws.get_message()
            except trio_websocket.ConnectionClosed as closed:
                return closed.reason.code
