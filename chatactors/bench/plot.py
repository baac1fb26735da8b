"""Latency over time and latency distribution, as one PNG (matplotlib is imported lazily)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from chatactors.bench.results import RunResult

MAX_POINTS = 40_000


class PlotUnavailable(Exception):
    """matplotlib is not installed."""


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise PlotUnavailable(
            "--plot needs matplotlib: pip install 'chatactors[bench]' (or pip install matplotlib)"
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _ticker() -> Any:
    import matplotlib.ticker

    return matplotlib.ticker


def write_plot(result: RunResult, path: Path) -> None:
    """Draw, per timed series, a scatter of latency against time and a latency CDF.

    Raises:
        PlotUnavailable: matplotlib is missing.
        ValueError: the result has no latency samples to draw.
    """
    series = {name: s for name, s in result.samples.items() if s.latency_ns}
    if not series:
        raise ValueError(f"the {result.workload} workload has no latency samples to plot")
    plt = _pyplot()
    fig, (over_time, distribution) = plt.subplots(1, 2, figsize=(13, 5))
    rng = random.Random(0)
    for name, samples in series.items():
        points = list(zip(samples.at_ns, samples.latency_ns, strict=True))
        if len(points) > MAX_POINTS:
            points = rng.sample(points, MAX_POINTS)
        over_time.scatter(
            [at / 1e9 for at, _ in points],
            [lat / 1e6 for _, lat in points],
            s=1,
            alpha=0.3,
            label=name,
        )
        for point_name, style in (("p99_ms", "-"), ("p50_ms", "--")):
            line = [(p.t_s + 0.5, getattr(p, point_name)) for p in result.timeline.get(name, [])]
            line = [(t, v) for t, v in line if v is not None]
            if line:
                over_time.plot(*zip(*line, strict=True), style, label=f"{name} {point_name[:3]}/s")
        ordered = sorted(lat / 1e6 for lat in samples.latency_ns)
        fractions = [(i + 1) / len(ordered) for i in range(len(ordered))]
        distribution.plot(ordered, fractions, label=name)
    over_time.set(
        xlabel="time since start (s)",
        ylabel="latency (ms)",
        yscale="log",
        title=f"{result.workload}: latency over time",
    )
    ticker = _ticker()
    over_time.yaxis.set_major_formatter(ticker.ScalarFormatter())
    distribution.xaxis.set_major_formatter(ticker.ScalarFormatter())
    over_time.legend(loc="upper left", fontsize="small", markerscale=8)
    distribution.set(
        xlabel="latency (ms)",
        ylabel="fraction of samples ≤ x",
        xscale="log",
        title="latency distribution (CDF)",
    )
    distribution.grid(True, which="both", alpha=0.3)
    distribution.legend(loc="lower right", fontsize="small")
    params = " ".join(f"{k}={v}" for k, v in result.params.items() if v is not None)
    fig.suptitle(
        f"{result.target} {params}",
        fontsize="small",
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
