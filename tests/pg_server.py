"""A real PostgreSQL server for the tests: ``initdb`` + ``pg_ctl`` in a temp dir on a free port.

PostgreSQL refuses to run as root, so every server command runs as the ``postgres`` user
(``runuser``), and the data directory is made in ``/tmp`` and given to that user (pytest's own
temp dirs are private to root). One server per test session; each test gets a fresh database.
The server is stopped with ``pg_ctl stop`` on its own data directory, never by name; it is
paused (SIGSTOP: hung, not down) by the PIDs of its postmaster and that postmaster's children.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import pytest

PG_USER = "postgres"
#: Starting or stopping the server must take less than this.
PG_TIMEOUT_S = 60
#: Tests never crash the machine, only processes: the OS cache keeps every write, so the tests
#: skip fsync (benchmarks keep it on). A commit still waits for its WAL write.
TEST_OPTIONS = ("-c", "fsync=off", "-c", "full_page_writes=off")


def pg_bin_dir() -> Path:
    """Where ``pg_ctl`` lives: on PATH, or Debian's ``/usr/lib/postgresql/<version>/bin``."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: p.parts)
    if not versions:
        pytest.fail("PostgreSQL is not installed (scripts/test installs Debian's postgresql)")
    return versions[-1].parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _as_postgres(*command: str | Path) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *map(str, command)]


@attrs.define(eq=False)
class PgServer:
    """One PostgreSQL cluster in ``root``; ``start``/``stop`` may be called again (outage tests)."""

    root: Path
    port: int
    options: tuple[str, ...] = TEST_OPTIONS
    _databases: Iterator[int] = attrs.field(factory=itertools.count)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres(pg_bin_dir() / "pg_ctl", "-D", self.data_dir, *args),
            check=True,
            capture_output=True,
            timeout=PG_TIMEOUT_S,
        )

    def init(self) -> None:
        subprocess.run(
            _as_postgres(
                pg_bin_dir() / "initdb", "-D", self.data_dir, "-U", PG_USER, "-A", "trust",
                "-E", "UTF8", "--locale=C", "--no-sync",
            ),
            check=True,
            capture_output=True,
            timeout=PG_TIMEOUT_S,
        )  # fmt: skip

    def start(self) -> None:
        server_options = " ".join(
            ("-c", f"port={self.port}", "-c", "listen_addresses=127.0.0.1",
             "-c", f"unix_socket_directories={self.root}", "-c", "max_connections=200",
             *self.options)
        )  # fmt: skip
        self._pg_ctl("start", "-w", "-t", str(PG_TIMEOUT_S), "-l", str(self.root / "server.log"),
                     "-o", server_options)  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("stop", "-w", "-t", str(PG_TIMEOUT_S), "-m", mode)

    def create_database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"test_{os.getpid()}_{next(self._databases)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _postmaster_pid(self) -> int:
        return int((self.data_dir / "postmaster.pid").read_text().split()[0])

    @staticmethod
    def _children(parent: int) -> list[int]:
        """Each backend and helper runs in a process group of its own: found by parent PID."""
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # ended meanwhile
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                children.append(int(entry.name))
        return children

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The whole server stopped with SIGSTOP (the kernel still accepts and acknowledges
        its TCP traffic; nothing answers), continued with SIGCONT on exit, whatever happened."""
        stopped: list[int] = []
        try:
            # The postmaster first: once stopped, it forks no new backend.
            postmaster = self._postmaster_pid()
            for pid in (postmaster, *self._children(postmaster)):
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
            yield
        finally:
            for pid in reversed(stopped):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)


def start_pg_server(options: tuple[str, ...] = TEST_OPTIONS) -> PgServer:
    """Init and start a cluster in a new temp dir owned by ``postgres``."""
    root = Path(tempfile.mkdtemp(prefix="chatactors-pg-"))
    postgres = pwd.getpwnam(PG_USER)
    os.chown(root, postgres.pw_uid, postgres.pw_gid)
    server = PgServer(root, free_port(), options)
    server.init()
    server.start()
    return server


def remove_pg_server(server: PgServer) -> None:
    """Stop the cluster (if it runs) and delete its directory."""
    # Already stopped: pg_ctl says so with a non-zero exit.
    with contextlib.suppress(subprocess.CalledProcessError):
        server.stop("fast")
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(name="pg_server", scope="session")
def pg_server_fixture() -> Iterator[PgServer]:
    """One PostgreSQL server for the whole session."""
    server = start_pg_server()
    try:
        yield server
    finally:
        remove_pg_server(server)


@pytest.fixture(name="database_url")
def database_url_fixture(pg_server: PgServer) -> str:
    """A fresh, empty database on the session's server."""
    return pg_server.create_database()
