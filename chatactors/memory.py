"""Giving memory back: the allocator, the garbage collector's schedule, and freed memory
returned to the OS.

A burst of connections (a reconnect storm: thousands of sockets opened and reset within
seconds) allocates tens of kilobytes per connection in many small blocks. Once they are freed,
Python's allocator and the C allocator keep the memory for reuse: glibc returns only the top
of its heap by itself, so a few blocks still in use above the freed ones (a chat's new message,
a cached frame) hold everything below them in the process's RSS, storm after storm, until the
process is killed for memory (BENCHMARKS.md, "Memory through reconnect storms"). glibc's
``malloc_trim(0)`` hands every whole free page of every arena back to the kernel
(``madvise(MADV_DONTNEED)``); :func:`reclaim_periodically` runs it after each periodic full
collection, in a worker thread, so the event loop never waits for it.

That reaches only what glibc holds. Python's own small-object allocator (pymalloc) takes memory
in 1 MiB arenas and gives an arena back only once every object in it is gone, which after a
storm is rare: a few objects made meanwhile (a presence change, a log line) pin most arenas.
So ``chatactors serve`` runs with ``PYTHONMALLOC=malloc`` by default (the ``memory_allocator``
setting; :func:`exec_with_allocator`): every object comes from glibc, and the trim returns what
a storm left. Measured side by side (BENCHMARKS.md): RSS back within about 45 MB of its
baseline after each of three storms instead of staying 140 MB above it, for about 6 % more CPU
per delivered message.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Literal

import trio

log = logging.getLogger(__name__)


def _load_malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``; None on a C library without it (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


_malloc_trim = _load_malloc_trim()


def can_trim() -> bool:
    """Whether this process's C library can hand freed memory back (glibc)."""
    return _malloc_trim is not None


def trim_malloc() -> bool:
    """Return the C allocator's free pages to the OS; True if it released any."""
    return _malloc_trim is not None and bool(_malloc_trim(0))


#: The environment variable that chooses CPython's allocator, read only as it starts.
_ALLOCATOR_VARIABLE = "PYTHONMALLOC"


def exec_with_allocator(allocator: Literal["malloc", "pymalloc"], args: Sequence[str]) -> None:
    """Start this command again (the same process: ``execve``) with ``allocator``, unless the
    interpreter already runs with it or the environment chose one (``PYTHONMALLOC`` set:
    respected as it is). Returns only when nothing needed to change."""
    if allocator == "pymalloc" or _ALLOCATOR_VARIABLE in os.environ or not sys.executable:
        return
    environment = {**os.environ, _ALLOCATOR_VARIABLE: allocator}
    os.execve(sys.executable, [sys.executable, "-m", "chatactors", *args], environment)


def tune_garbage_collector(gen0_threshold: int) -> None:
    """Collect once and freeze what start-up made (it lives as long as the process, so scanning
    it again is wasted work), then collect the young generation less often (0: Python's
    default)."""
    if gen0_threshold > 0:
        gc.collect()
        gc.freeze()
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(gen0_threshold, older, oldest)


async def reclaim_periodically(interval_s: float, stop: trio.Event) -> None:
    """Every ``interval_s`` until ``stop``: a full collection (what closed connections left in
    cycles goes back, even on a server too quiet to reach the raised young-generation threshold),
    then the C allocator's free pages back to the OS."""
    while True:
        with trio.move_on_after(interval_s):
            await stop.wait()
            return
        gc.collect()
        if can_trim():
            started = time.perf_counter()
            released = await trio.to_thread.run_sync(trim_malloc)
            log.debug("malloc_trim: %s in %.1f ms", "released" if released else "nothing",
                      (time.perf_counter() - started) * 1000)  # fmt: skip
