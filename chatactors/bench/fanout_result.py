"""Merge the outcomes of fanout workers into one `RunResult`."""

from __future__ import annotations

from collections import Counter

from chatactors.bench.fanout import FanoutOutcome
from chatactors.bench.monitor import ServerMonitor
from chatactors.bench.results import (
    Metric,
    RunResult,
    Samples,
    machine_info,
    now_iso,
    sum_summaries,
)
from chatactors.bench.stats import LatencySummary, timeline


def build(
    workload: str,
    target: str,
    started_at: str | None,
    params: dict[str, Metric],
    outcomes: list[FanoutOutcome],
    monitor: ServerMonitor,
) -> RunResult:
    deliveries = sum_summaries([o.deliveries for o in outcomes])
    at_ns = [at for o in outcomes for at in o.at_ns]
    latency_ns = [lat for o in outcomes for lat in o.latency_ns]
    send_latency_ns = [lat for o in outcomes for lat in o.send_latency_ns]
    window_s = max(o.window_s for o in outcomes)
    statuses: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    for o in outcomes:
        statuses.update(o.send_status)
        codes.update(o.close_codes)
    events = sum(o.events for o in outcomes)
    frames = sum(o.frames for o in outcomes)
    send_name = "ack" if workload == "socket-send" else "post"
    metrics: dict[str, Metric] = {
        "window_s": round(window_s, 3),
        "sent_per_s": deliveries.messages_sent / window_s,
        "accepted_per_s": sum(o.accepted_in_window for o in outcomes) / window_s,
        "deliveries_per_s": sum(o.deliveries_in_window for o in outcomes) / window_s,
        "events_per_s": sum(o.events_in_window for o in outcomes) / window_s,
        "frames": frames,
        "events": events,
        "events_per_frame": events / frames if frames else None,
        "bad_frames": sum(o.bad_frames for o in outcomes),
        "send_errors": sum(
            n for status, n in statuses.items() if status not in ("ok", "200", "201")
        ),
        "send_status": ", ".join(f"{k}:{v}" for k, v in sorted(statuses.items())),
        "close_codes": ", ".join(f"{k}:{v}" for k, v in sorted(codes.items())) or None,
        "generator_cpu_percent": ", ".join(f"{o.generator_cpu_percent:.0f}" for o in outcomes),
        "never_sent": sum(o.never_sent for o in outcomes),
        "send_lag_max_ms": max(o.send_lag_max_ms for o in outcomes),
        "drain_end": "; ".join(o.drain_end for o in outcomes),
        "warmup_missing_sockets": sum(o.warmup_missing for o in outcomes),
        "changes": sum(o.changes for o in outcomes),
    }
    usage = monitor.usage()
    if usage is not None and usage.cpu_percent > 0:
        # Per second of server CPU: what one whole core would sustain (an estimate that stays
        # meaningful when other processes share the server's core).
        core_share = usage.cpu_percent / 100
        metrics["accepted_per_server_cpu_s"] = float(metrics["accepted_per_s"] or 0) / core_share
        metrics["deliveries_per_server_cpu_s"] = (
            float(metrics["deliveries_per_s"] or 0) / core_share
        )
        metrics["server_wakeups_per_delivery"] = (
            (usage.wakeups / (float(metrics["deliveries_per_s"] or 0) * window_s))
            if metrics["deliveries_per_s"]
            else None
        )
    metrics["server_by_process"] = monitor.by_process()
    notes = []
    if metrics["send_lag_max_ms"] and float(metrics["send_lag_max_ms"]) > 100:
        notes.append("the generator fell behind its sending schedule by > 100 ms")
    if any(o.generator_cpu_percent > 90 for o in outcomes):
        notes.append("a generator process was CPU-bound (> 90 %): figures may be the generator's")
    if metrics["never_sent"]:
        notes.append(
            "messages never sent: every HTTP connection was busy (the server fell behind the rate)"
        )
    if any("deliveries cap" in o.drain_end for o in outcomes):
        notes.append("the drain hit its cap: lost deliveries may still have been on their way")
    if deliveries.lost or deliveries.duplicated or deliveries.misrouted:
        notes.append("DELIVERY ERRORS: see lost/duplicated/misrouted")
    return RunResult(
        workload=workload,
        target=target,
        started_at=started_at or now_iso(),
        params=params,
        metrics=metrics,
        latency={
            "delivery": LatencySummary.from_ns(latency_ns),
            send_name: LatencySummary.from_ns(send_latency_ns),
        },
        deliveries=deliveries,
        server=usage,
        server_timeline=monitor.timeline(),
        timeline={"delivery": timeline(at_ns, latency_ns)},
        machine=machine_info(),
        notes=notes,
        samples={"delivery": Samples(at_ns=at_ns, latency_ns=latency_ns)},
    )
