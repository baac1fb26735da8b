"""The Redis client at the cluster's load: two nodes on the own client against two nodes on
Valkey GLIDE (benchmarks/glide_node.py), and one process without Redis, delivered messages per
second of server CPU.

Two nodes on two ports, the bench spreading every chat's sockets and posts over both (as
``workers2`` in cluster_compare.py: about half the posts forwarded, every event heard by the
other node), SQLite in a fresh directory and a fresh ``redis-server`` per run; server CPU summed
over both nodes and ``redis-server``. Each node is offered ``rate`` msg/s over 100 chats (5
sockets each, bot on), as in ``cluster_compare.py scaled``; ``single`` is one process without
Redis offered the same per process. The setups alternate in each round, and ratios are taken
round by round: GLIDE against the own client per delivered message, and what each client's
cluster costs over one process per message (its Redis traffic, redis-server, the cross-node
work), GLIDE's against the own client's. BENCHMARKS.md, "Cluster mode", the Redis client.

Usage: .venv/bin/python benchmarks/redis_client_cluster.py [rounds [rate per node [first round]]]
(needs ``pip install valkey-glide``; results/redis-client-cluster-<rate>-<first round>.json; a
round takes about 40 s: run one at a time, with the first round's number, on a shared machine)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.cluster_compare import OUT, PY, SCALED_CHATS, fanout_args, stop  # noqa: E402
from tests.redis_server import start_redis_server  # noqa: E402

PROGRAMS = {
    "own": [PY, "-m", "chatactors"],
    "glide": [PY, str(ROOT / "benchmarks" / "glide_node.py")],
}


def start_node(
    program: list[str], args: list[str], data: Path
) -> tuple[subprocess.Popen[str], str]:
    command = [*program, "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", str(data),
               "--log-level", "warning", *args]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("Serving on "), line
    return process, line.removeprefix("Serving on ").strip()


def run(client: str, round_no: int, rate: int) -> dict[str, Any]:
    """``client``: own or glide (two nodes and a Redis), or single (one process, no Redis)."""
    redis = None if client == "single" else start_redis_server()
    processes: list[subprocess.Popen[str]] = []
    out = OUT / f"redis-client-{client}-{round_no}-{rate}.json"
    try:
        with tempfile.TemporaryDirectory() as data:
            urls = []
            for name in ("a",) if redis is None else ("a", "b"):
                args = [] if redis is None else ["--redis-url", redis.url, "--node-id", name]
                process, url = start_node(PROGRAMS.get(client, PROGRAMS["own"]), args, Path(data))
                processes.append(process)
                urls.append(url)
            time.sleep(2)  # start-up is not part of the run
            pids = [process.pid for process in processes]
            if redis is not None:
                pids.append(redis._process.pid)  # type: ignore[union-attr]
            subprocess.run(
                [PY, "-m", "chatactors", "bench", "fanout", "--url", ",".join(urls),
                 *fanout_args(rate * len(urls), SCALED_CHATS * len(urls)),
                 "--server-pid", ",".join(map(str, pids)), "--out", str(out), "--quiet"],
                check=True, cwd=ROOT,
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
            counters = [_cluster_counters(url) for url in urls] if redis is not None else []
    finally:
        for process in processes:
            stop(process)
        if redis is not None:
            redis.remove()
    document = json.loads(out.read_text())
    deliveries = document["deliveries"]
    return {
        "client": client,
        "round": round_no,
        "rate_per_node": rate,
        "received": deliveries["received"],
        "lost": deliveries["lost"],
        "duplicated": deliveries["duplicated"],
        "server_cpu_percent": round(document["server"]["cpu_percent"], 1),
        "deliveries_per_server_cpu_s": round(document["metrics"]["deliveries_per_server_cpu_s"], 1),
        "delivery_p50_ms": document["latency"]["delivery"].get("p50_ms"),
        "loadavg_1m": os.getloadavg()[0],
        # Each node's Redis traffic over the run (start-up included): what the client carried.
        "nodes": counters,
    }


def _cluster_counters(url: str) -> dict[str, float]:
    wanted = ("publish_messages", "publish_batches", "bus_received", "served_commands",
              "forwarded_commands", "lease_renewal_calls", "lease_claims", "holder_cache_misses",
              "chats_announced")  # fmt: skip
    found = {}
    for line in httpx.get(url + "/metrics").text.splitlines():
        for name in wanted:
            if line.startswith(f"chatactors_cluster_{name}_total "):
                found[name] = float(line.split()[1])
    return found


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    rate = int(sys.argv[2]) if len(sys.argv) > 2 else 125
    first = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    OUT.mkdir(parents=True, exist_ok=True)
    runs = []
    for round_no in range(first, first + rounds):
        order = ("single", "own", "glide") if round_no % 2 else ("glide", "own", "single")
        for client in order:
            runs.append(run(client, round_no, rate))
            print(json.dumps(runs[-1]), flush=True)
    for round_no in range(first, first + rounds):
        by = {r["client"]: r for r in runs if r["round"] == round_no}
        single, own, glide = (
            by[client]["deliveries_per_server_cpu_s"] for client in ("single", "own", "glide")
        )
        # CPU per delivered message is the inverse of deliveries per CPU-second.
        own_extra, glide_extra = single / own - 1, single / glide - 1
        print(
            f"round {round_no}: per delivered message GLIDE costs {own / glide:.2f}x the own "
            f"client; the cluster adds {own_extra:.0%} over one process on the own client, "
            f"{glide_extra:.0%} on GLIDE ({glide_extra / own_extra:.2f}x)"
        )
    (OUT / f"redis-client-cluster-{rate}-{first}.json").write_text(json.dumps({"runs": runs}))


if __name__ == "__main__":
    main()
