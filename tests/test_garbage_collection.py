"""memory.py's periodic collection: cycles left by closed connections are freed on an idle
server, whose raised young-generation threshold would otherwise never be reached."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
import trio
import trio.testing

from chatactors.memory import reclaim_periodically


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle, as a dropped connection leaves


@pytest.fixture
def idle_collector() -> Iterator[None]:
    """Python's automatic collection as good as off (as a quiet server with the threshold)."""
    threshold = gc.get_threshold()
    gc.set_threshold(10**9, 10**9, 10**9)
    yield
    gc.set_threshold(*threshold)


async def test_cycles_are_collected_after_the_interval_and_not_before(
    autojump_clock: trio.testing.MockClock, idle_collector: None
) -> None:
    cycle = weakref.ref(Node())
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(reclaim_periodically, 30.0, stop)
        await trio.sleep(29)
        assert cycle() is not None
        await trio.sleep(2)
        assert cycle() is None
        stop.set()  # and the collector returns
