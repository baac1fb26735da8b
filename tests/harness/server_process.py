"""``python -m chatactors serve`` as a child process on 127.0.0.1 port 0, for sync and Trio tests.

The server prints ``Serving on http://127.0.0.1:PORT`` once it listens. A reader thread keeps
every line the process prints (stdout and stderr, so the pipe never fills) for failure messages,
and hands the URL over. ``server_process`` (a ``with`` block, for sync tests such as Playwright's)
and ``open_server_process`` (``async with``, for Trio tests) start it the same way; at the end of
the block a process still running gets SIGTERM, then SIGKILL after :data:`STOP_S`. Signals go to
the child by its PID, never by a name pattern. If the block fails, the log goes to stderr, which
pytest shows with the failure.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypedDict, Unpack

import attrs
import httpx
import pytest
import trio
import trio_websocket

from tests.harness.clients import open_socket

ROOT = Path(__file__).resolve().parents[2]
#: Starting the interpreter and the app, or stopping it, must take less than this.
START_S = 30.0
STOP_S = 20.0
SERVING = "Serving on "


class ServeOptions(TypedDict, total=False):
    """The keyword arguments of :func:`serve_command`."""

    data_dir: Path | None
    database_url: str | None
    bot: bool
    wrapper: Sequence[str]


def serve_command(
    *args: str,
    data_dir: Path | None = None,
    database_url: str | None = None,
    bot: bool = False,
    wrapper: Sequence[str] = (),
) -> list[str]:
    """``chatactors serve`` on 127.0.0.1 port 0 with a short shutdown; later ``args`` win.

    The store: PostgreSQL at ``database_url``, else SQLite in ``data_dir``, else memory.
    ``bot``: on with no reply delay, or off. ``wrapper``: a command that runs the server as its
    last arguments (``prlimit ...``).
    """
    store = (
        ("--store", "postgres", "--database-url", database_url) if database_url is not None
        else ("--store", "sqlite") if data_dir is not None
        else ("--store", "memory")
    )  # fmt: skip
    return [
        *wrapper, sys.executable, "-m", "chatactors", "serve",
        "--host", "127.0.0.1", "--port", "0", "--shutdown-timeout-s", "5", *store,
        *(("--data-dir", str(data_dir)) if data_dir is not None else ()),
        *(("--bot-enabled", "--bot-delay-min-s", "0", "--bot-delay-max-s", "0") if bot
          else ("--no-bot-enabled",)),
        *args,
    ]  # fmt: skip


@attrs.define(eq=False)
class ServerProcess:
    """A ``chatactors serve`` child process: its URL once it serves, its PID, its output."""

    _process: subprocess.Popen[str]
    _lines: list[str] = attrs.field(factory=list)
    _urls: queue.Queue[str | None] = attrs.field(factory=queue.Queue)
    _reader: threading.Thread | None = None
    #: Set once the process printed its ``Serving on`` line.
    url: str = ""

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")

    @property
    def returncode(self) -> int | None:
        """The exit code if the process has ended, else None."""
        return self._process.poll()

    def log(self) -> str:
        """Everything the process printed so far."""
        return "".join(self._lines)

    def running(self) -> bool:
        return self.returncode is None

    def send_signal(self, signum: signal.Signals) -> None:
        """Any signal (SIGSTOP, SIGCONT, SIGTERM...) to this process; nothing once it was reaped."""
        self._process.send_signal(signum)

    def wait_blocking(self, timeout_s: float = STOP_S) -> int:
        """Wait for the exit (sync callers); its code."""
        return self._process.wait(timeout_s)

    async def wait(self) -> int:
        """Wait for the exit without blocking Trio (callers bound it); its code."""
        if self._process.returncode is None:
            # What trio.Process does: a pidfd becomes readable when the process exits.
            try:
                pidfd = os.pidfd_open(self.pid)
            except ProcessLookupError:
                pass  # already reaped by a poll in between
            else:
                try:
                    await trio.lowlevel.wait_readable(pidfd)
                finally:
                    os.close(pidfd)
        return self._process.wait()

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs at all."""
        self.send_signal(signal.SIGKILL)
        with trio.fail_after(STOP_S):
            await self.wait()

    async def terminate(self) -> int:
        """SIGTERM, then wait (bounded) for the exit; its code."""
        self.send_signal(signal.SIGTERM)
        with trio.fail_after(STOP_S):
            return await self.wait()

    def http(self, **options: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=STOP_S, **options)

    @asynccontextmanager
    async def socket(
        self, path: str, **options: Any
    ) -> AsyncIterator[trio_websocket.WebSocketConnection]:
        timeouts = {"connect_timeout": START_S, "disconnect_timeout": STOP_S}
        async with open_socket(self.ws_url + path, **{**timeouts, **options}) as ws:
            yield ws

    def _read_output(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.append(line)
            if line.startswith(SERVING) and not self.url:
                self._urls.put(line.removeprefix(SERVING).strip().rstrip("/"))
        self._urls.put(None)

    def _wait_serving(self) -> None:
        try:
            url = self._urls.get(timeout=START_S)
        except queue.Empty:
            pytest.fail(f"no '{SERVING}' line in {START_S} s:\n{self.log()}")
        if url is None:
            pytest.fail(f"the server exited ({self._process.wait()}) before serving:\n{self.log()}")
        self.url = url


def _start(command: list[str]) -> ServerProcess:
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    server = ServerProcess(process)
    server._reader = threading.Thread(target=server._read_output, daemon=True)
    server._reader.start()
    return server


@contextmanager
def _log_shown_on_failure(server: ServerProcess) -> Iterator[None]:
    """On an error in the block, the server's output goes to stderr (pytest shows it)."""
    try:
        yield
    except BaseException:
        print(f"---- output of server process {server.pid} ----\n{server.log()}", file=sys.stderr)
        raise


def _closed(server: ServerProcess) -> None:
    assert server._reader is not None
    server._reader.join(timeout=STOP_S)
    assert server._process.stdout is not None
    server._process.stdout.close()


@contextmanager
def server_process(*args: str, **options: Unpack[ServeOptions]) -> Iterator[ServerProcess]:
    """The server for a ``with`` block (see :func:`serve_command` for the arguments)."""
    server = _start(serve_command(*args, **options))
    try:
        server._wait_serving()
        with _log_shown_on_failure(server):
            yield server
    finally:
        if server.running():
            server.send_signal(signal.SIGTERM)
            try:
                server.wait_blocking()
            except subprocess.TimeoutExpired:
                server.send_signal(signal.SIGKILL)
                server.wait_blocking()
        _closed(server)


@asynccontextmanager
async def open_server_process(
    *args: str, **options: Unpack[ServeOptions]
) -> AsyncIterator[ServerProcess]:
    """The server for an ``async with`` block; waits never block Trio."""
    server = _start(serve_command(*args, **options))
    try:
        await trio.to_thread.run_sync(server._wait_serving, abandon_on_cancel=True)
        with _log_shown_on_failure(server):
            yield server
    finally:
        # Shielded (and bounded): a cancelled test must still not leave its server running.
        with trio.CancelScope(shield=True):
            if server.running():
                server.send_signal(signal.SIGTERM)
                with trio.move_on_after(STOP_S):
                    await server.wait()
                if server.running():
                    await server.kill()
            await trio.to_thread.run_sync(_closed, server)
