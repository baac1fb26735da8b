"""Server CPU time and memory, read from /proc/<pid>/stat and /proc/<pid>/status."""

from __future__ import annotations

import os
import time
from pathlib import Path

import attrs

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@attrs.frozen
class ProcSample:
    """One reading of a process."""

    at_ns: int
    """`time.monotonic_ns()` when read."""
    cpu_s: float
    """User plus system CPU time consumed so far, in seconds."""
    rss_bytes: int
    """Resident set size now."""
    hwm_bytes: int
    """Peak resident set size so far (VmHWM)."""
    wakeups: int = 0
    """Times its main thread went to sleep and was woken (``voluntary_ctxt_switches``): for an
    event loop, about one per wake-up of the loop."""


@attrs.frozen
class ServerUsage:
    """What the server consumed over a window."""

    pid: int
    cpu_percent: float
    """CPU time over wall time, in % of one core."""
    rss_mb_start: float
    rss_mb_end: float
    rss_mb_peak: float
    """Largest RSS sampled within the window (and VmHWM at its end, if larger is not known)."""
    wakeups: int = 0
    """Wake-ups of the process's main thread (summed over every process) within the window."""

    @classmethod
    def between(cls, pid: int, start: ProcSample, end: ProcSample, peak_rss: int) -> ServerUsage:
        wall_s = (end.at_ns - start.at_ns) / 1e9
        return cls(
            pid=pid,
            cpu_percent=100.0 * (end.cpu_s - start.cpu_s) / wall_s if wall_s > 0 else 0.0,
            rss_mb_start=start.rss_bytes / 2**20,
            rss_mb_end=end.rss_bytes / 2**20,
            rss_mb_peak=max(start.rss_bytes, end.rss_bytes, peak_rss) / 2**20,
            wakeups=end.wakeups - start.wakeups,
        )


def parse_stat_cpu_s(stat_text: str) -> float:
    """utime + stime in seconds from the text of /proc/<pid>/stat.

    The command name (field 2) may contain spaces and parentheses, so split after its last ')'.
    """
    fields = stat_text[stat_text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def parse_status_kb(status_text: str, key: str) -> int:
    """A `kB` value of /proc/<pid>/status, in bytes (e.g. key "VmRSS")."""
    for line in status_text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise ValueError(f"{key} not in /proc status")


def parse_status_count(status_text: str, key: str) -> int:
    """A plain count of /proc/<pid>/status (0 if the kernel does not give it)."""
    for line in status_text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def sample(pid: int) -> ProcSample:
    """Read the process now.

    Raises:
        OSError: if the process does not exist (or /proc is not readable).
    """
    base = Path("/proc") / str(pid)
    stat = (base / "stat").read_text()
    status = (base / "status").read_text()
    return ProcSample(
        at_ns=time.monotonic_ns(),
        cpu_s=parse_stat_cpu_s(stat),
        rss_bytes=parse_status_kb(status, "VmRSS"),
        hwm_bytes=parse_status_kb(status, "VmHWM"),
        wakeups=parse_status_count(status, "voluntary_ctxt_switches"),
    )


def sample_sum(pids: tuple[int, ...]) -> ProcSample:
    """Read several processes now (the nodes of a cluster) as one: CPU and memory summed.

    Raises:
        OSError: if one of them does not exist (or /proc is not readable).
    """
    samples = [sample(pid) for pid in pids]
    return ProcSample(
        at_ns=samples[-1].at_ns,
        cpu_s=sum(s.cpu_s for s in samples),
        rss_bytes=sum(s.rss_bytes for s in samples),
        hwm_bytes=sum(s.hwm_bytes for s in samples),
        wakeups=sum(s.wakeups for s in samples),
    )
