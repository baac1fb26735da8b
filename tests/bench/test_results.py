"""The result document: JSON shape, merging of worker summaries, the printed table."""

import json
from pathlib import Path

import attrs

from chatactors.bench import report
from chatactors.bench.ledger import DeliverySummary
from chatactors.bench.procstat import ServerUsage
from chatactors.bench.results import SCHEMA, RunResult, Samples, sum_summaries
from chatactors.bench.stats import LatencySummary, timeline


def _summary(**changes: int) -> DeliverySummary:
    fields = {field.name: 0 for field in attrs.fields(DeliverySummary)}
    return DeliverySummary(**{**fields, **changes})


def _result() -> RunResult:
    lat = [1_000_000, 2_000_000, 9_000_000]
    at = [0, 500_000_000, 1_200_000_000]
    return RunResult(
        workload="fanout",
        target="http://127.0.0.1:1",
        started_at="2026-11-23T00:00:00Z",
        params={"chats": 2, "rate": 10.0},
        metrics={"deliveries_per_s": 3.0, "send_errors": 0},
        latency={"delivery": LatencySummary.from_ns(lat)},
        deliveries=_summary(expected=4, received=3, lost=1, sockets=2),
        server=ServerUsage(
            pid=7, cpu_percent=50.0, rss_mb_start=1.0, rss_mb_end=2.0, rss_mb_peak=2.5
        ),
        timeline={"delivery": timeline(at, lat)},
        samples={"delivery": Samples(at_ns=at, latency_ns=lat)},
    )


def test_json_document_shape(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    _result().write_json(path)
    document = json.loads(path.read_text())
    assert document["schema"] == SCHEMA
    assert set(document) >= {
        "workload", "target", "started_at", "params", "metrics", "latency", "deliveries",
        "server", "timeline", "machine", "notes",
    }  # fmt: skip
    assert "samples" not in document
    assert document["latency"]["delivery"]["p99_ms"] == 9.0
    assert document["deliveries"]["lost"] == 1
    assert document["server"]["cpu_percent"] == 50.0
    assert [p["count"] for p in document["timeline"]["delivery"]] == [2, 1]


def test_sum_summaries_adds_every_field() -> None:
    total = sum_summaries(
        [_summary(expected=3, received=2, lost=1, sockets=5), _summary(expected=1, duplicated=4)]
    )
    assert total == _summary(expected=4, received=2, lost=1, duplicated=4, sockets=5)


def test_table_shows_losses_and_latency() -> None:
    table = report.render(_result())
    assert "deliveries lost" in table
    lost_line = next(line for line in table.splitlines() if line.startswith("deliveries lost"))
    assert lost_line.split()[-1] == "1"
    assert "p99 9.00" in table
    assert "server cpu % of one core" in table


def test_usage_between_two_samples() -> None:
    from chatactors.bench.procstat import ProcSample

    start = ProcSample(at_ns=0, cpu_s=1.0, rss_bytes=10 * 2**20, hwm_bytes=0)
    end = ProcSample(at_ns=2_000_000_000, cpu_s=2.5, rss_bytes=20 * 2**20, hwm_bytes=0)
    usage = ServerUsage.between(1, start, end, peak_rss=30 * 2**20)
    assert usage.cpu_percent == 75.0
    assert (usage.rss_mb_start, usage.rss_mb_end, usage.rss_mb_peak) == (10.0, 20.0, 30.0)
