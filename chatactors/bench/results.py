"""The result document of one run: what the table, the JSON file and the plot are made from."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path
from typing import Any

import attrs
import orjson

from chatactors.bench.ledger import DeliverySummary
from chatactors.bench.procstat import ServerUsage
from chatactors.bench.stats import LatencySummary, TimelinePoint

SCHEMA = "chatactors-bench/1"

Metric = int | float | str | None


@attrs.frozen
class Samples:
    """Raw latency samples kept in memory for the plot (never written to the JSON file)."""

    at_ns: list[int]
    """When each sample was taken, from the start of the measured window."""
    latency_ns: list[int]


@attrs.frozen
class RunResult:
    """Everything one `chatactors bench <workload>` run measured."""

    workload: str
    target: str
    started_at: str
    params: dict[str, Metric]
    metrics: dict[str, Metric]
    """Throughputs and counts, flat, with units in the names (`deliveries_per_s`)."""
    latency: dict[str, LatencySummary]
    """Latency distributions by what was timed (`delivery`, `post`, `get`, `ack`)."""
    deliveries: DeliverySummary | None = None
    server: ServerUsage | None = None
    server_timeline: list[dict[str, float]] = attrs.field(factory=list)
    """Per second: `t_s`, server `cpu_percent` and `rss_mb` (when its PID was given)."""
    timeline: dict[str, list[TimelinePoint]] = attrs.field(factory=dict)
    machine: dict[str, Metric] = attrs.field(factory=dict)
    notes: list[str] = attrs.field(factory=list)
    samples: dict[str, Samples] = attrs.field(factory=dict, eq=False)

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON document: every field but the raw samples, plus the schema name."""
        document = attrs.asdict(self, filter=lambda a, _v: a.name != "samples")
        return {"schema": SCHEMA, **document}

    def write_json(self, path: Path) -> None:
        path.write_bytes(
            orjson.dumps(
                self.to_json_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE
            )
        )


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def machine_info() -> dict[str, Metric]:
    """The generator's machine: core count, CPU model, memory, Python, load when reported.

    A 1-minute load average above the core count means other work shared the CPUs with the run.
    """
    model: str | None = None
    mem_total_mb: float | None = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total_mb = int(line.split()[1]) / 1024
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "mem_total_mb": mem_total_mb,
        "python": platform.python_version(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "generator_affinity": ",".join(str(c) for c in sorted(os.sched_getaffinity(0))),
    }


def sum_summaries(summaries: list[DeliverySummary]) -> DeliverySummary:
    """Add the delivery summaries of several workers field by field."""
    totals = {
        field.name: sum(getattr(s, field.name) for s in summaries)
        for field in attrs.fields(DeliverySummary)
    }
    return DeliverySummary(**totals)
