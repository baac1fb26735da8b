"""The `users` workload: its chat layout, and a short run against a real server subprocess.

The run checks correctness only (every message on both participants' sockets, once); speed is
measured in benchmarks/, never asserted.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from chatactors.bench import cli
from chatactors.bench.users import ring_chats
from tests.served_process import served_process


def test_ring_puts_every_user_in_k_chats_with_distinct_partners() -> None:
    users = [f"u{i}" for i in range(9)]
    pairs = ring_chats(users, 4)
    assert len(pairs) == 9 * 4 // 2
    assert len(set(pairs)) == len(pairs)
    counts = Counter(user for pair in pairs for user in pair)
    assert counts == dict.fromkeys(users, 4)
    assert all(a != b for a, b in pairs)


def test_ring_caps_k_at_what_the_users_allow() -> None:
    pairs = ring_chats(["a", "b", "c"], 10)
    assert Counter(user for pair in pairs for user in pair) == {"a": 2, "b": 2, "c": 2}


@pytest.mark.slow
def test_users_run_delivers_every_message_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with served_process(
        *("--store", "memory", "--no-bot-enabled", "--log-level", "warning"),
        *("--shutdown-timeout-s", "2"),
    ) as served:
        out = tmp_path / "users.json"
        argv = ["users", "--url", served.url, "--server-pid", str(served.pid)]
        argv += ["--users", "6", "--chats-per-user", "4", "--rate", "30", "--duration", "1"]
        status = cli.main([*argv, "--settle", "0.2", "--out", str(out), "--quiet"])
    assert status == 0, capsys.readouterr().err
    metrics = json.loads(out.read_text())["metrics"]
    assert metrics["user_sockets"] == 6
    assert metrics["chats_per_socket_mean"] == 4
    assert metrics["messages_posted"] == 30
    assert metrics["deliveries_received"] == metrics["deliveries_expected"] == 60
    assert metrics["deliveries_duplicated"] == 0
    assert metrics["sockets_closed_by_server"] == 0
    assert metrics["kb_per_idle_user_socket"] is not None
