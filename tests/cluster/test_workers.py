"""``chatactors serve --workers 2``: two node processes on one port serve a reference client.

The load generator's fanout workload (reference frames: one ``{"event", "data"}`` per frame)
runs unchanged against the port; each connection lands on either worker, so most posts and
sockets cross nodes through Redis. Correctness only; speed is measured in BENCHMARKS.md.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from chatactors.bench import cli
from chatactors.settings import Settings, SettingsError
from tests.harness.server_process import server_process
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow

FANOUT = ["--chats", "6", "--subscribers", "3", "--rate", "40", "--duration", "2"]


def children(pid: int) -> list[int]:
    """Child processes, whichever of the process's threads started them."""
    tasks = Path(f"/proc/{pid}/task").iterdir()
    return [int(child) for task in tasks for child in (task / "children").read_text().split()]


def test_two_workers_on_one_port_serve_the_reference_fanout(
    redis_server: RedisServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with server_process(
        *("--workers", "2", "--redis-url", redis_server.url, "--log-level", "warning"),
        data_dir=tmp_path,
        bot=True,
    ) as served:
        assert len(children(served.pid)) == 2
        out = tmp_path / "fanout.json"
        status = cli.main(["fanout", "--url", served.url, *FANOUT, "--out", str(out), "--quiet"])
        assert status == 0, capsys.readouterr().err
        document: dict[str, Any] = json.loads(out.read_text())
        deliveries = document["deliveries"]
        assert deliveries["messages_accepted"] == deliveries["messages_sent"] > 0
        assert deliveries["received"] == deliveries["expected"] > 0
        for problem in ("lost", "duplicated", "misrouted", "unknown", "disconnected_sockets"):
            assert deliveries[problem] == 0, problem
        served.send_signal(signal.SIGTERM)
        assert served.wait_blocking(30) == 0


def test_workers_need_redis() -> None:
    with pytest.raises(SettingsError, match="redis_url"):
        Settings(workers=2)


def test_cluster_mode_needs_a_shared_store() -> None:
    with pytest.raises(SettingsError, match="shared store"):
        Settings(redis_url="redis://127.0.0.1:6379/0", store="memory")
