"""Waiting for a state nothing signals: ``wait_until`` (sync tests) and ``wait_until_async``
(Trio tests), the only polls in the tests.

Use them only when there is no event to wait on from where the test stands: another process's
RSS, descriptors or ``/metrics``, a file another process writes, another task's statistics,
Redis's clock. Where there is one (a frame the test expects, a line the process prints, a
``trio.Event``, ``nursery.start``), wait on it instead; under the mock clock, sleep in mock time.
The bound is generous (a loaded 2-core machine must never hit it): it fails a test that hangs,
it never measures speed. Its message says what did not happen.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable

import trio

#: Between two looks at the condition. The bound, not this, is what a slow machine needs.
POLL_S = 0.05


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``condition`` (which may act: retry a connection, read a file) until it is true;
    ``AssertionError`` naming ``what`` if it is still false after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        time.sleep(POLL_S)


async def wait_until_async(
    condition: Callable[[], bool | Awaitable[bool]], timeout_s: float, what: str
) -> None:
    """``wait_until`` for Trio tests: ``condition`` may be async (an HTTP request, a Redis
    command), and the bound covers it too, so a condition that hangs fails the same way."""
    with trio.move_on_after(timeout_s):
        while True:
            met = condition()
            if inspect.isawaitable(met):
                met = await met
            if met:
                return
            await trio.sleep(POLL_S)
    raise AssertionError(f"not within {timeout_s} s: {what}")
