"""Cluster mode against one process: delivered messages per second of server CPU, and the
latency forwarding adds. Rounds alternate the setups in one window, so that a loaded machine
skews them alike; the ratios are the figures to quote (BENCHMARKS.md, "Cluster mode").

Setups (fanout, reference frames, a fresh SQLite directory and a fresh Redis per run):
- ``single``: ``chatactors serve`` as today (no Redis);
- ``node``: the same, as a one-node cluster (``--redis-url``);
- ``workers2``: ``--workers 2``: two nodes on one port (the kernel spreads the connections);
  ``workers2-unix`` (``scaled`` only): the same, reaching Redis through its Unix socket;
- ``nodes2-affine``: two nodes on two ports, the bench sending all of a chat's sockets and posts
  to one of them (``--chat-affinity``, as a proxy routing by chat id would).
Server CPU is summed over every server process and ``redis-server`` (``chatactors bench
--server-pid`` with a comma list: over the sending window, from /proc).

Forwarding: a chat held by node A, 300 sequential POSTs to A and to node B (which forwards to
A), alternating; p50/p99 of each.

Against the reference API (the FastAPI peer, benchmarks/peer, in /work/peer-venv):
``--workers 2``, one process, the peer, and the peer fanning out as the reference server does
(``reference``: each socket awaited in turn) offered the same fanout at 1,000 msg/s, alternating.

Scaled (``scaled``): every server process offered the same load, one process ``rate`` msg/s
over 100 chats against two nodes offered twice the rate over twice the chats (the goal's "N
cores give at least 0.8 N times one core": at a fixed total rate, two half-loaded processes
each pay their per-wake-up costs for half the work, which is the split, not the cluster).

Scaled against another version (``scaled-against BASE``): ``single`` and ``workers2`` of this
tree and of the source tree BASE (say ``git archive main | tar -x -C /tmp/base``), alternating
trees round by round; each round's runs are appended to one results file, so that rounds run as
separate short invocations add up.

Usage: .venv/bin/python benchmarks/cluster_compare.py [rounds [rate]]  (results/cluster-*.json)
       .venv/bin/python benchmarks/cluster_compare.py scaled [rounds [rate per process]]
       .venv/bin/python benchmarks/cluster_compare.py scaled-against BASE [rounds [rate]]
       .venv/bin/python benchmarks/cluster_compare.py peer [rounds]
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

from tests.redis_server import free_port as redis_free_port  # noqa: E402
from tests.redis_server import start_redis_server  # noqa: E402

OUT = ROOT / "benchmarks" / "results"
PY = str(ROOT / ".venv" / "bin" / "python")
#: Messages per second offered in the fanout runs (the second argument overrides it).
RATE = 250


#: Chats (5 sockets each) per server process in the ``scaled`` runs, and its default rate.
SCALED_CHATS = 100
SCALED_RATE = 125


def fanout_args(rate: int, chats: int = 100) -> list[str]:
    return ["--chats", str(chats), "--subscribers", "5", "--rate", str(rate), "--duration", "10"]


def tree_pids(pid: int) -> list[int]:
    """A process and its children (the workers)."""
    tasks = Path(f"/proc/{pid}/task").iterdir()
    return [
        pid,
        *(int(child) for task in tasks for child in (task / "children").read_text().split()),
    ]


def start_server(
    args: list[str], data: Path, code: Path = ROOT
) -> tuple[subprocess.Popen[str], str]:
    """``chatactors serve`` from the source tree ``code`` (this one, or another version's)."""
    command = [PY, "-m", "chatactors", "serve", "--host", "127.0.0.1", "--port", "0",
               "--data-dir", str(data), "--log-level", "warning", *args]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(code)}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=code, env=env)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("Serving on "), line
    return process, line.removeprefix("Serving on ").strip()


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(60)


def fanout(
    setup: str, round_no: int, rate: int = RATE, chats: int = 100, code: Path = ROOT
) -> dict[str, Any]:
    redis = start_redis_server() if setup != "single" else None
    extra = [] if redis is None else ["--redis-url", redis.url]
    if setup == "workers2-unix":  # Redis through its Unix socket instead of loopback TCP
        extra = ["--redis-url", redis.unix_url, "--workers", "2"]  # type: ignore[union-attr]
    if setup == "workers2":
        extra += ["--workers", "2"]
    affine = setup == "nodes2-affine"  # two nodes on two ports, each chat's traffic on one
    with tempfile.TemporaryDirectory() as data:
        processes, urls = [], []
        for node in ("a", "b") if affine else ("",):
            node_args = extra + (["--node-id", node] if node else [])
            process, url = start_server(node_args, Path(data), code)
            processes.append(process)
            urls.append(url)
        try:
            time.sleep(2)  # the workers' start-up is not part of the run
            pids = [pid for process in processes for pid in tree_pids(process.pid)]
            if redis is not None:
                pids.append(redis._process.pid)  # type: ignore[union-attr]
            suffix = "" if (rate, chats) == (RATE, 100) else f"-{rate}-{chats}"
            suffix += "" if code == ROOT else "-" + code.name
            out = OUT / f"cluster-{setup}-{round_no}{suffix}.json"
            subprocess.run(
                [PY, "-m", "chatactors", "bench", "fanout", "--url", ",".join(urls),
                 *fanout_args(rate, chats),
                 *(["--chat-affinity"] if affine else []),
                 "--server-pid", ",".join(map(str, pids)), "--out", str(out), "--quiet"],
                check=True, cwd=ROOT,
            )  # fmt: skip
        finally:
            for process in processes:
                stop(process)
            if redis is not None:
                redis.remove()
    document = json.loads(out.read_text())
    deliveries, metrics = document["deliveries"], document["metrics"]
    return {
        "setup": setup,
        "round": round_no,
        "rate": rate,
        "chats": chats,
        "received": deliveries["received"],
        "lost": deliveries["lost"],
        "duplicated": deliveries["duplicated"],
        "server_cpu_percent": round(document["server"]["cpu_percent"], 1),
        "deliveries_per_server_cpu_s": round(metrics["deliveries_per_server_cpu_s"], 1),
        "delivery_p50_ms": document["latency"]["delivery"].get("p50_ms"),
        "delivery_p99_ms": document["latency"]["delivery"].get("p99_ms"),
        "wakeups_per_delivery": metrics.get("server_wakeups_per_delivery"),
        "by_process": metrics.get("server_by_process"),
        "loadavg_1m": os.getloadavg()[0],
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def forwarding() -> dict[str, Any]:
    redis = start_redis_server()
    with tempfile.TemporaryDirectory() as data:
        a, url_a = start_server(["--redis-url", redis.url, "--node-id", "a"], Path(data))
        b, url_b = start_server(["--redis-url", redis.url, "--node-id", "b"], Path(data))
        try:
            with httpx.Client(base_url=url_a) as ca, httpx.Client(base_url=url_b) as cb:
                chat = ca.post("/chats", json={"participants": ["ann"]}).json()["chat_id"]
                ca.get(f"/chats/{chat}/messages").raise_for_status()  # A holds it
                times: dict[str, list[float]] = {"owner": [], "forwarded": []}
                body = {"user_id": "ann", "type": "text", "content": "x"}
                for i in range(600):
                    name, client = ("owner", ca) if i % 2 else ("forwarded", cb)
                    start = time.perf_counter()
                    client.post(f"/chats/{chat}/messages", json=body).raise_for_status()
                    times[name].append((time.perf_counter() - start) * 1000)
        finally:
            stop(a)
            stop(b)
            redis.remove()
    return {
        name: {"p50_ms": round(percentile(v, 0.5), 2), "p99_ms": round(percentile(v, 0.99), 2)}
        for name, v in times.items()
    }


PEER_FANOUT = ["--chats", "100", "--subscribers", "5", "--rate", "1000", "--duration", "10"]


def against_peer(target: str, round_no: int) -> dict[str, Any]:
    """``--workers 2`` or the FastAPI peer (the reference API, benchmarks/peer), offered the
    same open-loop fanout: what each serves on this machine's two cores."""
    redis = start_redis_server() if target == "workers2" else None
    with tempfile.TemporaryDirectory() as data:
        if redis is not None:
            process, url = start_server(["--workers", "2", "--redis-url", redis.url], Path(data))
        elif target == "single":
            process, url = start_server([], Path(data))
        else:
            port = redis_free_port()
            # "reference": the peer fanning out as the reference does (each socket awaited).
            sequential = "1" if target == "reference" else "0"
            process = subprocess.Popen(
                ["/work/peer-venv/bin/uvicorn", "app:app", "--host", "127.0.0.1", "--port",
                 str(port), "--log-level", "warning"],
                cwd=ROOT / "benchmarks" / "peer", text=True,
                env={**os.environ, "PEER_SEQUENTIAL_FANOUT": sequential},
            )  # fmt: skip
            url = f"http://127.0.0.1:{port}"
        try:
            time.sleep(3)
            out = OUT / f"cluster-vs-peer-{target}-{round_no}.json"
            subprocess.run(
                [PY, "-m", "chatactors", "bench", "fanout", "--url", url, *PEER_FANOUT,
                 "--out", str(out), "--quiet"],
                check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
            )  # fmt: skip
        finally:
            stop(process)
            if redis is not None:
                redis.remove()
    document = json.loads(out.read_text())
    deliveries, delivery = document["deliveries"], document["latency"]["delivery"]
    return {
        "target": target,
        "round": round_no,
        "accepted_per_s": document["metrics"]["accepted_per_s"],
        "deliveries_per_s": document["metrics"]["deliveries_per_s"],
        "lost": deliveries["lost"],
        "delivery_p50_ms": delivery.get("p50_ms"),
        "delivery_p99_ms": delivery.get("p99_ms"),
        "loadavg_1m": os.getloadavg()[0],
    }


def scaled(rounds: int, rate: int) -> None:
    """Each server process offered the same load: one process ``rate`` msg/s over 100 chats,
    two nodes twice both (N cores given N times the work, the goal's own terms)."""
    runs = []
    for round_no in range(1, rounds + 1):
        setups = (("single", 1), ("workers2", 2), ("workers2-unix", 2), ("nodes2-affine", 2))
        for setup, processes in setups:
            run = fanout(setup, round_no, rate * processes, SCALED_CHATS * processes)
            print(json.dumps(run), flush=True)
            runs.append(run)
    (OUT / f"cluster-scaled-{rate}.json").write_text(json.dumps({"runs": runs}))


def scaled_against(base: Path, rounds: int, rate: int) -> None:
    """``scaled``'s ``single`` and ``workers2``, for this tree and for ``base`` (another
    version's source, e.g. ``git archive main``), alternating trees round by round: the ratio
    of each tree's ``workers2`` to its own ``single`` in the same round, side by side."""
    runs = []
    for round_no in range(1, rounds + 1):
        trees = (base, ROOT) if round_no % 2 else (ROOT, base)
        for code in trees:
            for setup, processes in (("single", 1), ("workers2", 2)):
                run = fanout(setup, round_no, rate * processes, SCALED_CHATS * processes, code)
                run["code"] = "base" if code == base else "this"
                print(json.dumps(run), flush=True)
                runs.append(run)
    out = OUT / f"cluster-scaled-against-{rate}.json"
    earlier = json.loads(out.read_text())["runs"] if out.exists() else []
    out.write_text(json.dumps({"runs": earlier + runs}))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    if sys.argv[1:2] == ["peer"]:
        rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
        peer_runs = []
        for round_no in range(1, rounds + 1):
            for target in ("workers2", "single", "peer", "reference"):
                peer_runs.append(against_peer(target, round_no))
                print(json.dumps(peer_runs[-1]), flush=True)
        (OUT / "cluster-vs-peer-summary.json").write_text(json.dumps(peer_runs))
        return
    if sys.argv[1:2] == ["scaled-against"]:
        scaled_against(Path(sys.argv[2]).resolve(),
                       int(sys.argv[3]) if len(sys.argv) > 3 else 1,
                       int(sys.argv[4]) if len(sys.argv) > 4 else SCALED_RATE)  # fmt: skip
        return
    if sys.argv[1:2] == ["scaled"]:
        scaled(int(sys.argv[2]) if len(sys.argv) > 2 else 3,
               int(sys.argv[3]) if len(sys.argv) > 3 else SCALED_RATE)  # fmt: skip
        return
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    rate = int(sys.argv[2]) if len(sys.argv) > 2 else RATE
    runs = []
    for round_no in range(1, rounds + 1):
        for setup in ("single", "node", "workers2", "nodes2-affine"):
            run = fanout(setup, round_no, rate)
            print(json.dumps(run), flush=True)
            runs.append(run)
    if rate != RATE:
        (OUT / f"cluster-summary-{rate}.json").write_text(json.dumps({"runs": runs}))
        return
    forward = forwarding()
    print(json.dumps({"forwarding": forward}), flush=True)
    (OUT / "cluster-summary.json").write_text(json.dumps({"runs": runs, "forwarding": forward}))


if __name__ == "__main__":
    main()
