"""Short runs of every workload against a real server subprocess (port 0, memory store, bot
without delay). They check correctness only (no loss, no duplicates, the JSON written); speed is
measured in benchmarks/, never asserted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatactors.bench import cli
from tests.harness.server_process import server_process

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 30.0


@pytest.fixture(name="server", scope="module")
def _server() -> Iterator[tuple[str, int]]:
    """A `chatactors serve` subprocess; yields its URL and PID."""
    with server_process("--log-level", "warning", "--shutdown-timeout-s", "2", bot=True) as served:
        yield served.url, served.pid


def _run(argv: list[str], out: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    status = cli.main([*argv, "--out", str(out), "--quiet"])
    printed = capsys.readouterr()
    with capsys.disabled():
        print(f"\n$ chatactors bench {' '.join(argv)}\n{printed.out}")
    assert status == 0, printed.err
    document: dict[str, Any] = json.loads(out.read_text())
    assert document["schema"] == "chatactors-bench/1"
    return document


def _assert_clean(document: dict[str, Any]) -> None:
    deliveries = document["deliveries"]
    assert deliveries["messages_accepted"] == deliveries["messages_sent"] > 0
    assert deliveries["expected"] == deliveries["messages_accepted"] * 3
    assert deliveries["received"] == deliveries["expected"]
    assert deliveries["lost"] == 0
    assert deliveries["duplicated"] == 0
    assert deliveries["misrouted"] == 0
    assert deliveries["unknown"] == 0
    assert deliveries["disconnected_sockets"] == 0
    assert document["metrics"]["bad_frames"] == 0
    assert document["latency"]["delivery"]["count"] == deliveries["received"]


FANOUT = ["--chats", "4", "--subscribers", "3", "--rate", "40", "--duration", "1"]


def test_fanout(
    server: tuple[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, pid = server
    plot = tmp_path / "fanout.png"
    argv = ["fanout", "--url", url, *FANOUT, "--server-pid", str(pid), "--plot", str(plot)]
    document = _run(argv, tmp_path / "fanout.json", capsys)
    _assert_clean(document)
    assert document["params"]["subprotocol"] == "reference"
    assert document["server"]["pid"] == pid
    assert document["server"]["rss_mb_end"] > 0
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_fanout_subprotocol_in_two_workers(
    server: tuple[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = server
    argv = ["fanout", "--url", url, *FANOUT, "--subprotocol", "--workers", "2"]
    document = _run(argv, tmp_path / "fanout-v1.json", capsys)
    _assert_clean(document)
    assert document["params"]["subprotocol"] == "chatactors.v1"
    assert document["params"]["workers"] == 2


def test_socket_send(
    server: tuple[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = server
    document = _run(["socket-send", "--url", url, *FANOUT], tmp_path / "send.json", capsys)
    _assert_clean(document)
    assert document["latency"]["ack"]["count"] == document["deliveries"]["messages_accepted"]


@pytest.mark.parametrize("workload", ["fanout", "socket-send"])
def test_a_share_of_edits_and_reactions_is_delivered_like_messages(
    server: tuple[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str], workload: str
) -> None:
    url, _ = server
    argv = [workload, "--url", url, *FANOUT, "--edit-ratio", "0.3"]
    if workload == "fanout":
        argv.append("--subprotocol")
    document = _run(argv, tmp_path / "mixed.json", capsys)
    _assert_clean(document)  # each change owed once to every socket, like a message
    sent = document["deliveries"]["messages_sent"]
    assert document["params"]["edit_ratio"] == 0.3
    # 30 % of the operations, less those made before their chat had a message to change.
    assert 0.2 * sent <= document["metrics"]["changes"] <= 0.3 * sent


def test_http(server: tuple[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, pid = server
    argv = ["http", "--url", url, "--chats", "2", "--concurrency", "4", "--duration", "1",
            "--history", "10", "--page", "10", "--server-pid", str(pid)]  # fmt: skip
    document = _run(argv, tmp_path / "http.json", capsys)
    metrics = document["metrics"]
    assert metrics["get_requests"] > 0
    assert metrics["post_requests"] > 0
    assert metrics["get_errors"] == metrics["post_errors"] == 0
    assert metrics["get_page_mismatch"] == 0
    assert document["latency"]["get"]["count"] == metrics["get_requests"]


def test_idle(server: tuple[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url, pid = server
    argv = ["idle", "--url", url, "--chats", "200", "--sockets", "50", "--settle", "0.2",
            "--server-pid", str(pid)]  # fmt: skip
    document = _run(argv, tmp_path / "idle.json", capsys)
    metrics = document["metrics"]
    assert metrics["chats_created"] == 200
    assert metrics["sockets_open"] == 50
    assert metrics["server_rss_mb_after_sockets"] > 0
