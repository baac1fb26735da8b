"""Reading a process's CPU time and RSS from /proc."""

import os
import time

import pytest

from chatactors.bench import procstat
from chatactors.bench.monitor import ServerMonitor


def test_stat_with_spaces_and_parens_in_command_name() -> None:
    # Fields 14 and 15 (utime, stime) are 300 and 100 ticks.
    rest = "S 1 1 1 0 -1 4194560 100 0 0 0 300 100 0 0 20 0 1 0 5 1000 50"
    text = f"1234 (my (odd) name) {rest}\n"
    assert procstat.parse_stat_cpu_s(text) == pytest.approx(400 / procstat.CLOCK_TICKS)


def test_status_value_in_bytes() -> None:
    text = "Name:\tpython\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\n"
    assert procstat.parse_status_kb(text, "VmRSS") == 1024 * 1024
    assert procstat.parse_status_kb(text, "VmHWM") == 2048 * 1024
    with pytest.raises(ValueError, match="VmSwap"):
        procstat.parse_status_kb(text, "VmSwap")


def test_sample_of_this_process() -> None:
    before = procstat.sample(os.getpid())
    sum(i * i for i in range(200_000))  # burn a little CPU
    after = procstat.sample(os.getpid())
    assert before.rss_bytes > 1_000_000
    assert before.hwm_bytes >= before.rss_bytes
    assert after.cpu_s >= before.cpu_s
    assert after.at_ns > before.at_ns


def test_wakeups_count_the_times_the_process_slept() -> None:
    text = "Name:\tpython\nvoluntary_ctxt_switches:\t42\nnonvoluntary_ctxt_switches:\t7\n"
    assert procstat.parse_status_count(text, "voluntary_ctxt_switches") == 42
    assert procstat.parse_status_count(text, "no_such_count") == 0
    before = procstat.sample(os.getpid())
    for _ in range(3):
        time.sleep(0.001)  # a sleep is a voluntary context switch
    assert procstat.sample(os.getpid()).wakeups >= before.wakeups + 3


def test_a_cluster_is_also_shown_process_by_process() -> None:
    monitor = ServerMonitor(pid=os.getpid(), more_pids=(os.getpid(),))
    monitor.mark_start()
    time.sleep(0.001)
    monitor.mark_end()
    shown = monitor.by_process()
    assert shown is not None
    assert shown.count(f"{os.getpid()}: ") == 2
    usage = monitor.usage()
    assert usage is not None
    assert usage.wakeups >= 2  # summed over both (the same process twice here)
    assert ServerMonitor(pid=os.getpid()).by_process() is None  # one process: nothing to split


def test_sample_of_a_missing_process() -> None:
    with pytest.raises(OSError):  # noqa: PT011 (FileNotFoundError or ProcessLookupError)
        procstat.sample(2**22 + 7)
