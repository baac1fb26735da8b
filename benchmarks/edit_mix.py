"""Plain sends against a mix with edits and reactions, side by side in one run.

``chatactors bench fanout --chats 100 --subscribers 5 --rate 300 --subprotocol`` against a fresh
``chatactors serve --store sqlite`` (bot off: it answers sends, not changes, so it would tilt the
comparison), once with plain sends and once with ``--edit-ratio 0.1`` (10 % of the operations
edit or react to the chat's newest message, half each), alternately, ``--pairs`` times. The server
runs on core 0 and the generator on core 1 (``taskset``), on 127.0.0.1 only; each run is
``--duration`` seconds. The figure that matters: server CPU per delivered event (a delivery is a
message or a change reaching one socket), mixed against plain.

Run: ``.venv/bin/python benchmarks/edit_mix.py`` (writes benchmarks/results/edit-mix-*.json and
prints the table of BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SERVING = re.compile(r"Serving on (http://127\.0\.0\.1:\d+)")


def _taskset(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if shutil.which("taskset") else []


def _serve(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [*_taskset(0), sys.executable, "-m", "chatactors", "serve", "--host", "127.0.0.1",
         "--port", "0", "--store", "sqlite", "--data-dir", str(data_dir), "--no-bot-enabled",
         "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:
        found = SERVING.search(line)
        if found:
            return process, found.group(1)
    raise RuntimeError(f"the server exited ({process.wait()}) before serving")


def _run(name: str, edit_ratio: float, args: argparse.Namespace) -> dict[str, Any]:
    out = RESULTS / f"edit-mix-{name}.json"
    with tempfile.TemporaryDirectory(prefix="edit-mix-") as tmp:
        server, url = _serve(Path(tmp))
        try:
            subprocess.run(
                [*_taskset(1), sys.executable, "-m", "chatactors", "bench", "fanout", "--url", url,
                 "--chats", "100", "--subscribers", "5", "--rate", str(args.rate),
                 "--duration", str(args.duration), "--subprotocol",
                 "--edit-ratio", str(edit_ratio), "--server-pid", str(server.pid),
                 "--out", str(out), "--quiet"],
                check=True, cwd=ROOT, stdout=subprocess.DEVNULL, timeout=300,
            )  # fmt: skip
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
    document: dict[str, Any] = json.loads(out.read_text())
    return document


def _row(name: str, document: dict[str, Any]) -> dict[str, Any]:
    metrics, deliveries = document["metrics"], document["deliveries"]
    per_cpu_s = metrics.get("deliveries_per_server_cpu_s") or 0.0
    latency = document["latency"]["delivery"]
    return {
        "run": name,
        "operations_per_s": round(metrics["accepted_per_s"], 1),
        "changes": metrics["changes"],
        "deliveries_per_s": round(metrics["deliveries_per_s"], 1),
        "server_cpu_percent": round(document["server"]["cpu_percent"], 1),
        "server_cpu_us_per_delivery": round(1e6 / per_cpu_s, 1) if per_cpu_s else None,
        "delivery_p50_ms": latency["p50_ms"],
        "delivery_p99_ms": latency["p99_ms"],
        "lost": deliveries["lost"],
        "duplicated": deliveries["duplicated"],
        "send_errors": metrics["send_errors"],
        "load_1m": document["machine"].get("loadavg_1m"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2, help="plain/mixed pairs (default 2)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run (10)")
    parser.add_argument("--rate", type=float, default=300.0, help="operations per second (300)")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    for pair in range(1, args.pairs + 1):
        for name, ratio in (("plain", 0.0), ("mixed", 0.1)):
            rows.append(_row(f"{name}-{pair}", _run(f"{name}-{pair}", ratio, args)))
            print(json.dumps(rows[-1]), flush=True)
    cost = {
        kind: [r["server_cpu_us_per_delivery"] for r in rows if r["run"].startswith(kind)]
        for kind in ("plain", "mixed")
    }
    means = {kind: sum(values) / len(values) for kind, values in cost.items()}
    summary = {
        "rows": rows,
        "mean_server_cpu_us_per_delivery": means,
        "mixed_over_plain": round(means["mixed"] / means["plain"], 3),
    }
    (RESULTS / "edit-mix-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary["mean_server_cpu_us_per_delivery"]), summary["mixed_over_plain"])


if __name__ == "__main__":
    main()
