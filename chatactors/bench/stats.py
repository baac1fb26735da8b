"""Percentiles and latency summaries (nearest-rank, no interpolation)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import attrs

NS_PER_MS = 1_000_000


def percentile(sorted_values: Sequence[int] | Sequence[float], q: float) -> float:
    """The nearest-rank `q`-th percentile of already sorted values.

    The smallest value such that at least `q` % of the values are less than or equal to it:
    with 100 values, p99 is the 99th smallest and p100 the largest.

    Raises:
        ValueError: if there are no values or `q` is outside [0, 100].
    """
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile {q} outside [0, 100]")
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return float(sorted_values[rank - 1])


@attrs.frozen
class LatencySummary:
    """Latency distribution of a set of samples, in milliseconds."""

    count: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    mean_ms: float | None

    @classmethod
    def from_ns(cls, samples_ns: Iterable[int]) -> LatencySummary:
        """Summarise latencies given in nanoseconds (any order; none gives all None)."""
        values = sorted(samples_ns)
        if not values:
            return cls(count=0, p50_ms=None, p90_ms=None, p99_ms=None, max_ms=None, mean_ms=None)
        return cls(
            count=len(values),
            p50_ms=percentile(values, 50) / NS_PER_MS,
            p90_ms=percentile(values, 90) / NS_PER_MS,
            p99_ms=percentile(values, 99) / NS_PER_MS,
            max_ms=values[-1] / NS_PER_MS,
            mean_ms=sum(values) / len(values) / NS_PER_MS,
        )


@attrs.frozen
class TimelinePoint:
    """One second of a run: what was received in it and how late."""

    t_s: float
    """Start of the second, from the start of the measured window."""
    count: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


def timeline(
    at_ns: Sequence[int], latency_ns: Sequence[int], bucket_ns: int = 1_000_000_000
) -> list[TimelinePoint]:
    """Bucket samples by the time they were taken (ns from the window start).

    Every bucket from 0 to the last sample appears, empty ones with count 0, so a stall shows.
    Samples taken before the window start fall into bucket 0.
    """
    if len(at_ns) != len(latency_ns):
        raise ValueError("at_ns and latency_ns differ in length")
    if not at_ns:
        return []
    buckets: dict[int, list[int]] = {}
    for at, lat in zip(at_ns, latency_ns, strict=True):
        buckets.setdefault(max(0, at) // bucket_ns, []).append(lat)
    points = []
    for k in range(max(buckets) + 1):
        values = sorted(buckets.get(k, []))
        points.append(
            TimelinePoint(
                t_s=k * bucket_ns / 1e9,
                count=len(values),
                p50_ms=percentile(values, 50) / NS_PER_MS if values else None,
                p99_ms=percentile(values, 99) / NS_PER_MS if values else None,
                max_ms=values[-1] / NS_PER_MS if values else None,
            )
        )
    return points
