"""Samples the server process once a second while a workload runs."""

from __future__ import annotations

import itertools

import attrs
import trio

from chatactors.bench import procstat
from chatactors.bench.procstat import ProcSample, ServerUsage


@attrs.define(eq=False)
class ServerMonitor:
    """Reads /proc/<pid> now and then; `usage()` summarises the window between two marks.

    With `more_pids` (the other nodes of a cluster), each reading sums every process's CPU and
    memory, so the server's CPU covers every node; `usage().pid` is still `pid`.
    """

    pid: int | None
    more_pids: tuple[int, ...] = ()
    interval_s: float = 1.0
    samples: list[ProcSample] = attrs.field(factory=list)
    _start: ProcSample | None = None
    _end: ProcSample | None = None
    #: Each process on its own at the two marks (``by_process``).
    _start_each: list[ProcSample] = attrs.field(factory=list)
    _end_each: list[ProcSample] = attrs.field(factory=list)

    def _sample(self) -> ProcSample | None:
        if self.pid is None:
            return None
        try:
            sample = procstat.sample_sum((self.pid, *self.more_pids))
        except OSError:
            return None
        self.samples.append(sample)
        return sample

    def mark_start(self) -> None:
        self._start = self._sample()
        self._start_each = self._sample_each()

    def mark_end(self) -> None:
        self._end = self._sample()
        self._end_each = self._sample_each()

    def _sample_each(self) -> list[ProcSample]:
        if self.pid is None or not self.more_pids:
            return []
        try:
            return [procstat.sample(pid) for pid in (self.pid, *self.more_pids)]
        except OSError:
            return []

    def by_process(self) -> str | None:
        """With several processes: each one's CPU seconds and wake-ups between the marks
        (``pid: 1.23 s, 456 wakeups; ...``), to see which of them the work went to."""
        if not self._start_each or len(self._start_each) != len(self._end_each):
            return None
        pids = (self.pid, *self.more_pids)
        return "; ".join(
            f"{pid}: {end.cpu_s - start.cpu_s:.2f} s, {end.wakeups - start.wakeups} wakeups"
            for pid, start, end in zip(pids, self._start_each, self._end_each, strict=True)
        )

    def rss_bytes(self) -> int | None:
        """The server's RSS now (None without a readable PID)."""
        sample = self._sample()
        return None if sample is None else sample.rss_bytes

    async def run(self) -> None:
        """Sample every `interval_s` until cancelled."""
        if self.pid is None:
            return
        while True:
            self._sample()
            await trio.sleep(self.interval_s)

    def usage(self) -> ServerUsage | None:
        if self.pid is None or self._start is None or self._end is None:
            return None
        start, end = self._start, self._end
        inside = [s.rss_bytes for s in self.samples if start.at_ns <= s.at_ns <= end.at_ns]
        return ServerUsage.between(self.pid, start, end, max(inside, default=0))

    def timeline(self) -> list[dict[str, float]]:
        """Per sample from the start mark: seconds, CPU % since the previous sample, RSS MB."""
        if self._start is None:
            return []
        window = [s for s in self.samples if s.at_ns >= self._start.at_ns]
        if self._end is not None:
            window = [s for s in window if s.at_ns <= self._end.at_ns]
        points = []
        for previous, current in itertools.pairwise(window):
            wall_s = (current.at_ns - previous.at_ns) / 1e9
            if wall_s <= 0.05:
                continue
            points.append(
                {
                    "t_s": round((current.at_ns - self._start.at_ns) / 1e9, 3),
                    "cpu_percent": round(100 * (current.cpu_s - previous.cpu_s) / wall_s, 1),
                    "rss_mb": round(current.rss_bytes / 2**20, 1),
                }
            )
        return points
