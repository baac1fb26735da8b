"""A real Redis server for the tests: Debian's ``redis-server`` on a free port in a temp dir.

Nothing is persisted (``--save ''``, ``--appendonly no``): a restart is an empty Redis, as after
a crash of a cache-only Redis, unless the test asks for a snapshot (``SAVE``) first, which the
next start loads. The server is stopped through its own ``Popen`` (by PID), never by name;
``stop``/``start`` may be called again on the same port for outage tests. With ``certs`` it
listens with TLS only (``--port 0 --tls-port``), optionally asking clients for a certificate.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import attrs
import hiredis
import pytest

from tests.harness.waiting import wait_until
from tests.tls_certs import Certs

#: Starting or stopping the server must take less than this.
REDIS_TIMEOUT_S = 20


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@attrs.define(eq=False)
class RedisServer:
    root: Path
    port: int
    _process: subprocess.Popen[bytes] | None = None
    #: TLS only, with these certificates; the server asks clients for theirs if ``auth_clients``.
    certs: Certs | None = None
    auth_clients: bool = False

    @property
    def url(self) -> str:
        if self.certs is not None:
            return f"rediss://localhost:{self.port}/0"
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def unix_url(self) -> str:
        """The same server through its Unix socket."""
        return f"unix://{self.root / 'redis.sock'}?db=0"

    def start(self, *extra: str, wait: bool = True) -> None:
        """Start on the same port and dir (loading ``dump.rdb`` if a ``SAVE`` left one);
        ``extra`` flags go last; with ``wait=False``, return without waiting for a PONG (a
        server that answers ``LOADING`` first)."""
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (scripts/test installs Debian's)")
        log = (self.root / "server.log").open("ab")
        listen = ["--port", str(self.port), "--bind", "127.0.0.1"]
        if self.certs is not None:
            # 127.0.0.2 reaches the loopback too: a host name the certificate does not name.
            listen = ["--port", "0", "--tls-port", str(self.port), "--bind", "127.0.0.1",
                      "127.0.0.2", "--tls-cert-file", str(self.certs.server_cert),
                      "--tls-key-file", str(self.certs.server_key),
                      "--tls-ca-cert-file", str(self.certs.ca),
                      "--tls-auth-clients", "yes" if self.auth_clients else "no"]  # fmt: skip
        self._process = subprocess.Popen(
            [binary, *listen, "--dir", str(self.root),
             "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes",
             "--unixsocket", str(self.root / "redis.sock"), "--unixsocketperm", "700",
             *extra],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        if not wait:
            return
        # Startup is outside any Trio run (a fixture), so a bounded real-time poll is the way to
        # wait for the port; it asserts nothing about speed.
        process, answered = self._process, False

        def answers_or_exited() -> bool:
            nonlocal answered
            answered = self._answers_ping()
            return answered or process.poll() is not None

        with contextlib.suppress(AssertionError):
            wait_until(answers_or_exited, REDIS_TIMEOUT_S, "redis-server answering PING")
        if not answered:
            self.stop()
            pytest.fail(f"redis-server did not start:\n{self.log()}")

    def command(self, *args: str | int) -> Any:
        """Run one command through the Unix socket (no TLS, no password), blocking: for setting
        a test up (``SAVE``, ``REPLICAOF``, ``CONFIG SET``), outside the code under test."""
        reader = hiredis.Reader()
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(REDIS_TIMEOUT_S)
            conn.connect(str(self.root / "redis.sock"))
            conn.sendall(hiredis.pack_command(tuple(args)))  # type: ignore[arg-type]
            while (reply := reader.gets()) is False:
                data = conn.recv(65536)
                if not data:
                    raise ConnectionError("redis-server closed the connection")
                reader.feed(data)
        if isinstance(reply, hiredis.ReplyError):
            raise reply
        return reply

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                if self.certs is None:
                    conn.sendall(b"PING\r\n")
                    return conn.recv(16).startswith(b"+PONG")
                context = ssl.create_default_context(cafile=str(self.certs.ca))
                if self.auth_clients:
                    context.load_cert_chain(str(self.certs.client_cert), str(self.certs.client_key))
                with context.wrap_socket(conn, server_hostname="localhost") as tls:
                    tls.sendall(b"PING\r\n")
                    return tls.recv(16).startswith(b"+PONG")
        except OSError:
            return False

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

    def forget(self) -> None:
        """Delete the snapshot, so that the next start is an empty Redis (another server)."""
        (self.root / "dump.rdb").unlink(missing_ok=True)

    def remove(self) -> None:
        """Stop, then delete the temp dir."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def start_redis_server(certs: Certs | None = None, *, auth_clients: bool = False) -> RedisServer:
    server = RedisServer(
        Path(tempfile.mkdtemp(prefix="chatactors-redis-")),
        free_port(),
        certs=certs,
        auth_clients=auth_clients,
    )
    server.start()
    return server
