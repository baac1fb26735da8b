"""The table printed at the end of a run."""

from __future__ import annotations

from chatactors.bench.results import Metric, RunResult


def _format(value: Metric) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return value


def rows(result: RunResult) -> list[tuple[str, str]]:
    """(name, value) pairs in display order."""
    out: list[tuple[str, str]] = [("workload", result.workload), ("target", result.target)]
    out += [(f"param {k}", "-" if v is None else str(v)) for k, v in result.params.items()]
    out += [(k, _format(v)) for k, v in result.metrics.items()]
    for name, summary in result.latency.items():
        out.append(
            (
                f"{name} latency ms (n={summary.count:,})",
                " ".join(
                    f"{label} {_format(value)}"
                    for label, value in (
                        ("p50", summary.p50_ms),
                        ("p90", summary.p90_ms),
                        ("p99", summary.p99_ms),
                        ("max", summary.max_ms),
                    )
                ),
            )
        )
    if result.deliveries is not None:
        d = result.deliveries
        out += [
            ("deliveries expected", _format(d.expected)),
            ("deliveries received", _format(d.received)),
            ("deliveries lost", _format(d.lost)),
            ("deliveries duplicated", _format(d.duplicated)),
            ("deliveries misrouted/unknown", f"{d.misrouted:,}/{d.unknown:,}"),
            (
                "messages accepted/failed/unanswered",
                f"{d.messages_accepted:,}/{d.messages_failed:,}/{d.messages_unanswered:,}",
            ),
            ("sockets (disconnected)", f"{d.sockets:,} ({d.disconnected_sockets:,})"),
        ]
    if result.server is not None:
        s = result.server
        out += [
            ("server pid", str(s.pid)),
            ("server cpu % of one core", _format(s.cpu_percent)),
            (
                "server rss MB start/end/peak",
                f"{s.rss_mb_start:.1f}/{s.rss_mb_end:.1f}/{s.rss_mb_peak:.1f}",
            ),
        ]
    out += [("note", note) for note in result.notes]
    return out


def render(result: RunResult) -> str:
    table = rows(result)
    width = max(len(name) for name, _ in table)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in table)
