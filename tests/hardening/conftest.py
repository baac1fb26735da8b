"""A real server process for hardening tests (fuzzing drives it over real HTTP)."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest


def start_server(data_dir: Path, *flags: str) -> tuple[subprocess.Popen[str], str]:
    """Start ``chatactors serve`` on a free port; return the process and its base URL."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chatactors",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            *flags,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    seen = []
    while True:
        try:
            line = lines.get(timeout=30)
        except queue.Empty:
            process.kill()
            raise RuntimeError("server did not start:\n" + "".join(seen)) from None
        seen.append(line)
        if line.startswith("Serving on "):
            return process, line.removeprefix("Serving on ").strip()


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process, url = start_server(
        tmp_path_factory.mktemp("fuzz-data"),
        "--store", "sqlite", "--bot-delay-min-s", "0", "--bot-delay-max-s", "0",
        "--max-body-bytes", "65536", "--max-content-chars", "8192",
    )  # fmt: skip
    try:
        yield url
    finally:
        process.terminate()
        code = process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()
        assert code == 0
