"""Percentile math (nearest rank), latency summaries and per-second timelines."""

import pytest

from chatactors.bench.stats import LatencySummary, percentile, timeline

MS = 1_000_000


@pytest.mark.parametrize(
    ("q", "expected"), [(0, 1), (1, 1), (50, 50), (90, 90), (99, 99), (99.5, 100), (100, 100)]
)
def test_nearest_rank_on_1_to_100(q: float, expected: int) -> None:
    assert percentile(list(range(1, 101)), q) == expected


def test_small_samples_round_up() -> None:
    # With 3 values p50 is the 2nd (ceil(1.5)), p99 the 3rd: never interpolated.
    assert percentile([10, 20, 30], 50) == 20
    assert percentile([10, 20, 30], 99) == 30
    assert percentile([7], 1) == 7


@pytest.mark.parametrize("q", [-1, 100.1])
def test_rejects_out_of_range(q: float) -> None:
    with pytest.raises(ValueError, match="outside"):
        percentile([1, 2], q)


def test_rejects_empty() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_summary_in_ms_from_unsorted_ns() -> None:
    samples = [5 * MS, 1 * MS, 3 * MS, 2 * MS, 4 * MS]
    summary = LatencySummary.from_ns(samples)
    assert summary.count == 5
    assert summary.p50_ms == 3.0
    assert summary.p90_ms == 5.0
    assert summary.max_ms == 5.0
    assert summary.mean_ms == 3.0


def test_summary_of_nothing() -> None:
    summary = LatencySummary.from_ns([])
    assert summary.count == 0
    assert summary.p99_ms is None


def test_timeline_shows_empty_seconds() -> None:
    second = 1_000_000_000
    at = [0, second // 2, 2 * second + 1, 2 * second + 2]
    lat = [1 * MS, 3 * MS, 10 * MS, 20 * MS]
    points = timeline(at, lat)
    assert [p.t_s for p in points] == [0.0, 1.0, 2.0]
    assert [p.count for p in points] == [2, 0, 2]
    assert points[0].p50_ms == 1.0
    assert points[0].max_ms == 3.0
    assert points[1].p99_ms is None
    assert points[2].p99_ms == 20.0


def test_timeline_puts_early_samples_in_first_second() -> None:
    points = timeline([-5, 10], [MS, MS])
    assert len(points) == 1
    assert points[0].count == 2


def test_timeline_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="length"):
        timeline([1, 2], [1])
