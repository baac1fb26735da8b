"""A real Redis server for the tests: Debian's ``redis-server`` on a free port in a temp dir.

Nothing is persisted (``--save ''``, ``--appendonly no``): a restart is an empty Redis, as after
a crash of a cache-only Redis. The server is stopped through its own ``Popen`` (by PID), never
by name; ``stop``/``start`` may be called again on the same port for outage tests.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import attrs
import pytest

#: Starting or stopping the server must take less than this.
REDIS_TIMEOUT_S = 20


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@attrs.define(eq=False)
class RedisServer:
    root: Path
    port: int
    _process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def unix_url(self) -> str:
        """The same server through its Unix socket."""
        return f"unix://{self.root / 'redis.sock'}?db=0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (scripts/test installs Debian's)")
        log = (self.root / "server.log").open("ab")
        self._process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root),
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes",
             "--unixsocket", str(self.root / "redis.sock"), "--unixsocketperm", "700"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        # Startup is outside any Trio run (a fixture), so a short real-time poll is the way to
        # wait for the port; it is bounded and asserts nothing about speed.
        deadline = time.monotonic() + REDIS_TIMEOUT_S
        while not _answers_ping(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"redis-server did not start:\n{self.log()}")
            time.sleep(0.02)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGCONT)  # in case a test paused it
            process.terminate()
            try:
                process.wait(REDIS_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(REDIS_TIMEOUT_S)

    def pause(self) -> None:
        """SIGSTOP: Redis keeps its connections open but answers nothing (a hung server)."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def remove(self) -> None:
        """Stop, then delete the temp dir."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def start_redis_server() -> RedisServer:
    server = RedisServer(Path(tempfile.mkdtemp(prefix="chatactors-redis-")), free_port())
    server.start()
    return server
