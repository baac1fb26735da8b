"""``chatactors serve`` in a subprocess on a free port, for tests that need a real process.

The server prints ``Serving on http://127.0.0.1:PORT`` once it listens; this reads that line
(with a timeout), keeps the rest of the output for failure messages, and stops the process
(SIGTERM, then SIGKILL) at the end.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 30.0


@attrs.frozen
class ServedProcess:
    url: str
    process: subprocess.Popen[str]
    #: Every line the server printed so far (it keeps growing while the server runs).
    log: list[str]

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def served_process(*args: str, wrapper: Sequence[str] = ()) -> Iterator[ServedProcess]:
    """Run ``python -m chatactors serve --host 127.0.0.1 --port 0 *args`` for the block.

    ``wrapper``: a command that runs the server as its last arguments (``prlimit ...``).
    """
    serve = [sys.executable, "-m", "chatactors", "serve", "--host", "127.0.0.1", "--port", "0"]
    process = subprocess.Popen(
        [*wrapper, *serve, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    assert process.stdout is not None
    stdout = process.stdout
    lines: queue.Queue[str | None] = queue.Queue()
    log: list[str] = []

    def drain() -> None:
        for line in stdout:
            log.append(line)
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        url = None
        while url is None:
            try:
                line = lines.get(timeout=START_TIMEOUT_S)
            except queue.Empty:
                pytest.fail(f"no 'Serving on' line in {START_TIMEOUT_S} s:\n{''.join(log)}")
            if line is None:
                pytest.fail(f"the server exited ({process.wait()}) before serving:\n{''.join(log)}")
            if line.startswith("Serving on "):
                url = line.removeprefix("Serving on ").strip().rstrip("/")
        yield ServedProcess(url, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=5)
        stdout.close()
