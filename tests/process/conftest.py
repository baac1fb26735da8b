"""Process tests: the real ``chatactors serve`` in a child process, over SQLite in ``tmp_path``.

Policy: these are ``@pytest.mark.slow`` (each starts interpreters); the process comes from
``tests.harness.server_process``: only 127.0.0.1, port 0 (read from the ``Serving on`` line);
every start, stop and request is bounded; the server's output is kept and shown (its ``log()``)
when a test fails. "Acknowledged" means an HTTP 200
(or a v1 ack): every acknowledged write must be found after a restart, however the process died.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(name="data_dir")
def _data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path
