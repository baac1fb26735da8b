"""Print the figures of benchmarks/results/*.json as the Markdown table of BENCHMARKS.md.

.venv/bin/python benchmarks/summarize.py [results-dir]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _row(name: str, doc: dict[str, Any]) -> str:
    m = doc["metrics"]
    load = _num(doc["machine"].get("loadavg_1m"), 1)
    server = doc.get("server") or {}
    if doc["workload"] in ("fanout", "socket-send"):
        d = doc["deliveries"]
        lat = doc["latency"]["delivery"]
        throughput = (
            f"{_num(m['accepted_per_s'])} msg/s, {_num(m['deliveries_per_s'])} deliveries/s, "
            f"{_num(m['events_per_s'])} events/s"
        )
        per_cpu = (
            f"{_num(m.get('accepted_per_server_cpu_s'))} msg, "
            f"{_num(m.get('deliveries_per_server_cpu_s'))} deliveries"
        )
        latency = f"{_num(lat['p50_ms'])} / {_num(lat['p99_ms'])} / {_num(lat['max_ms'])}"
        correctness = (
            f"lost {d['lost']}, dup {d['duplicated']}, unanswered {d['messages_unanswered']}, "
            f"never sent {m.get('never_sent', 0)}"
        )
    elif doc["workload"] == "http":
        lat = doc["latency"]
        throughput = ", ".join(f"{op} {_num(m.get(f'{op}_ok_per_s'))} req/s" for op in lat)
        per_cpu = ", ".join(f"{op} {_num(m.get(f'{op}_ok_per_server_cpu_s'))}" for op in lat)
        latency = ", ".join(
            f"{op} {_num(s['p50_ms'])} / {_num(s['p99_ms'])} / {_num(s['max_ms'])}"
            for op, s in lat.items()
        )
        correctness = ", ".join(f"{op} errors {m.get(f'{op}_errors')}" for op in lat)
    else:
        throughput = (
            f"{_num(m['chats_created'])} chats (+{_num(m['chats_rss_growth_mb'], 1)} MB), "
            f"{_num(m['sockets_open'])} sockets (+{_num(m['sockets_rss_growth_mb'], 1)} MB)"
        )
        per_cpu = "-"
        latency = f"{_num(m['bytes_per_chat'])} B/chat, {_num(m['kb_per_socket'], 1)} KB/socket"
        correctness = f"create {_num(m['create_per_s'])} chats/s"
    cpu = _num(server.get("cpu_percent")) if server else "-"
    if doc["workload"] == "http":
        cpu = ", ".join(f"{op} {_num(m.get(f'{op}_server_cpu_percent'))}" for op in doc["latency"])
    return f"| {name} | {throughput} | {per_cpu} | {latency} | {correctness} | {cpu} | {load} |"


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS
    print(
        "| scenario | throughput | per server CPU-second | latency ms p50 / p99 / max "
        "| correctness | server CPU % | load 1m |"
    )
    print("|---|---|---|---|---|---|---|")
    for path in sorted(folder.glob("*.json")):
        print(_row(path.stem, json.loads(path.read_text())))


if __name__ == "__main__":
    main()
