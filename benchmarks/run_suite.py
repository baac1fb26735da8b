"""Run the benchmark suite of BENCHMARKS.md: a fresh server per scenario, pinned to core 0, and
`chatactors bench` pinned to core 1. Results go to benchmarks/results/<name>.json (and .png).

    .venv/bin/python benchmarks/run_suite.py                 # every scenario
    .venv/bin/python benchmarks/run_suite.py fanout-http     # those whose name contains this

The FastAPI peer scenarios need /work/peer-venv (see benchmarks/peer/app.py) and are skipped
without it. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PYTHON = str(ROOT / ".venv" / "bin" / "python")
PEER_UVICORN = "/work/peer-venv/bin/uvicorn"
SERVER_CORE, GENERATOR_CORE = "0", "1"

FANOUT_100x5 = ["fanout", "--chats", "100", "--subscribers", "5", "--duration", "10"]
SCENARIOS: list[tuple[str, str, list[str], list[str]]] = [
    # name, server kind, extra server args, bench args
    ("fanout-http-100x5-r1000", "chatactors", [], [*FANOUT_100x5, "--rate", "1000"]),
    ("fanout-http-100x5-r250", "chatactors", [], [*FANOUT_100x5, "--rate", "250"]),
    ("fanout-http-100x5-r50", "chatactors", [], [*FANOUT_100x5, "--rate", "50"]),
    ("socket-send-100x5-r50", "chatactors", [],
     ["socket-send", "--chats", "100", "--subscribers", "5", "--duration", "10", "--rate", "50"]),
    ("socket-send-100x5-r3000", "chatactors", [],
     ["socket-send", "--chats", "100", "--subscribers", "5", "--duration", "10", "--rate", "3000"]),
    ("socket-send-100x5-r500", "chatactors", [],
     ["socket-send", "--chats", "100", "--subscribers", "5", "--duration", "10", "--rate", "500"]),
    ("bigroom-http-10x500-r20", "chatactors", [],
     ["fanout", "--chats", "10", "--subscribers", "500", "--duration", "10", "--rate", "20"]),
    ("bigroom-v1-10x500-r100", "chatactors", [],
     ["fanout", "--chats", "10", "--subscribers", "500", "--duration", "10", "--rate", "100",
      "--subprotocol"]),
    ("bigroom-v1-10x500-r100-delay1s", "chatactors", ["--ws-v1-write-delay-s", "1"],
     ["fanout", "--chats", "10", "--subscribers", "500", "--duration", "10", "--rate", "100",
      "--subprotocol"]),
    ("socket-send-100x5-r3000-delay50ms", "chatactors", ["--ws-v1-write-delay-s", "0.05"],
     ["socket-send", "--chats", "100", "--subscribers", "5", "--duration", "10", "--rate", "3000"]),
    ("http-memory", "chatactors", [], ["http", "--concurrency", "32", "--duration", "10"]),
    ("http-sqlite", "chatactors", ["--store", "sqlite"],
     ["http", "--concurrency", "32", "--duration", "10"]),
    ("peer-fanout-http-100x5-r1000", "peer", [], [*FANOUT_100x5, "--rate", "1000"]),
    ("peer-http", "peer", [], ["http", "--concurrency", "32", "--duration", "10"]),
    ("peer-idle-10k-chats-2k-sockets", "peer", [],
     ["idle", "--chats", "10000", "--sockets", "2000", "--settle", "3"]),
    ("idle-20k-chats-5k-sockets", "chatactors", [],
     ["idle", "--chats", "20000", "--sockets", "5000", "--settle", "3"]),
    ("idle-100k-chats-5k-sockets", "chatactors", [],
     ["idle", "--chats", "100000", "--sockets", "5000", "--settle", "3"]),
]  # fmt: skip


def start_server(kind: str, extra: list[str], data_dir: str) -> tuple[subprocess.Popen[str], str]:
    if kind == "peer":
        port = "18765"
        command = ["taskset", "-c", SERVER_CORE, PEER_UVICORN, "app:app", "--host", "127.0.0.1",
                   "--port", port, "--log-level", "warning", "--no-access-log"]  # fmt: skip
        process = subprocess.Popen(
            command, cwd=ROOT / "benchmarks" / "peer", stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PEER_BOT_DELAY_MIN_S": "2", "PEER_BOT_DELAY_MAX_S": "4"},
        )  # fmt: skip
        time.sleep(3)
        return process, f"http://127.0.0.1:{port}"
    command = ["taskset", "-c", SERVER_CORE, PYTHON, "-m", "chatactors", "serve", "--host",
               "127.0.0.1", "--port", "0", "--store", "memory", "--data-dir", data_dir,
               "--log-level", "warning", "--shutdown-timeout-s", "2", *extra]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: [lines.put(x) for x in stdout], daemon=True).start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line.startswith("Serving on "):
            return process, line.removeprefix("Serving on ").strip()
    process.kill()
    raise RuntimeError("the server did not start")


def main(selection: list[str]) -> int:
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name, kind, extra, bench in SCENARIOS:
        if selection and not any(s in name for s in selection):
            continue
        if kind == "peer" and not Path(PEER_UVICORN).exists():
            print(f"skip {name}: no {PEER_UVICORN}")
            continue
        data_dir = tempfile.mkdtemp(prefix="chatactors-bench-")
        server, url = start_server(kind, extra, data_dir)
        try:
            command = ["taskset", "-c", GENERATOR_CORE, PYTHON, "-m", "chatactors", "bench",
                       *bench, "--url", url, "--server-pid", str(server.pid),
                       "--out", str(RESULTS / f"{name}.json")]  # fmt: skip
            if bench[0] != "idle":
                command += ["--plot", str(RESULTS / f"{name}.png")]
            print(f"\n=== {name}\n$ {' '.join(command)}", flush=True)
            subprocess.run(command, check=False)
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
