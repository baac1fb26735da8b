"""`chatactors bench fanout` spread over two cluster nodes (real processes on port 0, one SQLite
store, one Redis): every socket gets its deliveries, each node served sockets, and the server
CPU and RSS cover both processes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chatactors.bench import cli, procstat
from tests.harness.server_process import ServerProcess, server_process
from tests.redis_server import RedisServer, start_redis_server

pytestmark = pytest.mark.slow

FANOUT = ["--chats", "4", "--subscribers", "3", "--rate", "40", "--duration", "2"]


@pytest.fixture(name="nodes")
def _nodes(tmp_path: Path) -> Iterator[list[ServerProcess]]:
    redis: RedisServer = start_redis_server()
    try:
        with ExitStack() as stack:
            yield [
                stack.enter_context(
                    server_process(
                        *("--redis-url", redis.url, "--node-id", name),
                        *("--log-level", "warning", "--shutdown-timeout-s", "2"),
                        data_dir=tmp_path,
                        bot=True,
                    )
                )
                for name in ("a", "b")
            ]
    finally:
        redis.remove()


def _sockets_served(url: str) -> float:
    """WebSocket connections the node saw end (the bench closed them all)."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    families = text_string_to_metric_families(text)
    return sum(
        sample.value
        for family in families
        if family.name == "chatactors_websocket_disconnects"
        for sample in family.samples
        if sample.name.endswith("_total")
    )


@pytest.mark.parametrize("workload", ["fanout", "socket-send"])
def test_fanout_over_two_nodes(
    workload: str,
    nodes: list[ServerProcess],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    urls = ",".join(node.url for node in nodes)
    pids = ",".join(str(node.pid) for node in nodes)
    out = tmp_path / "fanout.json"
    argv = [workload, "--url", urls, "--server-pid", pids, *FANOUT, "--out", str(out), "--quiet"]
    status = cli.main(argv)
    assert status == 0, capsys.readouterr().err
    document: dict[str, Any] = json.loads(out.read_text())
    deliveries = document["deliveries"]
    assert deliveries["messages_accepted"] == deliveries["messages_sent"] > 0
    assert deliveries["expected"] == deliveries["messages_accepted"] * 3
    assert deliveries["received"] == deliveries["expected"]
    for problem in ("lost", "duplicated", "misrouted", "unknown", "disconnected_sockets"):
        assert deliveries[problem] == 0, problem
    assert document["params"]["server_pid"] == pids
    # 4 chats x 3 sockets, socket i of chat c on node (c + i) mod 2: 6 on each.
    assert [_sockets_served(node.url) for node in nodes] == [6, 6]
    rss = sorted(procstat.sample(node.pid).rss_bytes / 2**20 for node in nodes)
    # Summed over both nodes (each holds tens of MB): well above either alone.
    assert document["server"]["rss_mb_end"] > rss[1] + rss[0] / 2
    assert document["server"]["pid"] == nodes[0].pid


def test_other_workloads_take_one_url(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["http", "--url", "http://127.0.0.1:1,http://127.0.0.1:2"])
    assert "takes one --url" in capsys.readouterr().err


def _counter(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    )


def test_chat_affinity_keeps_each_chats_traffic_on_one_node(
    nodes: list[ServerProcess], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = ",".join(node.url for node in nodes)
    out = tmp_path / "affine.json"
    argv = ["fanout", "--url", urls, *FANOUT, "--chats", "3", "--chat-affinity", "--out",
            str(out), "--quiet"]  # fmt: skip
    assert cli.main(argv) == 0, capsys.readouterr().err
    deliveries = json.loads(out.read_text())["deliveries"]
    assert deliveries["received"] == deliveries["expected"] > 0
    assert deliveries["lost"] == deliveries["duplicated"] == 0
    # Chats 0 and 2 (3 sockets each) on node a, chat 1 on node b; spread, it would be 5 and 4.
    assert [_sockets_served(node.url) for node in nodes] == [6, 3]
    # Each chat was activated where its traffic went: nothing had to be forwarded.
    forwarded = "chatactors_cluster_forwarded_commands_total"
    assert [_counter(node.url, forwarded) for node in nodes] == [0, 0]
