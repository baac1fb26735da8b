"""ThreadCalls: a store call that hangs costs its caller the timeout, and says truthfully whether
its write went out.

Policy: real worker threads held on ``threading.Event``s, so the real clock with short timeouts
and ``trio.fail_after`` guards; a thread given up on is awaited through its limiter token, which
it keeps until it returns.
"""

from __future__ import annotations

import threading

import pytest
import trio

from chatactors.domain.errors import OutcomeUnknown
from chatactors.storage.store import StoreNotAnswering
from chatactors.storage.thread_calls import Sending, ThreadCalls
from tests.storage.stuck_threads import GUARD_S, wait_for_stuck_threads

TIMEOUT_S = 0.2


async def test_a_write_given_up_on_before_it_went_out_never_goes_out() -> None:
    calls = ThreadCalls(trio.CapacityLimiter(1), TIMEOUT_S)
    release = threading.Event()
    sent: list[str] = []

    def write(sending: Sending) -> None:
        release.wait(GUARD_S)  # say, waiting for a connection
        sending()
        sent.append("written")

    with trio.fail_after(GUARD_S):
        with pytest.raises(StoreNotAnswering):
            await calls.call(write)
        assert calls.stuck == 1
        # Its one token is held by the stuck thread: the next call fails at once.
        with pytest.raises(StoreNotAnswering):
            await calls.read(lambda: sent.append("read"))
    release.set()
    await wait_for_stuck_threads(calls)
    assert sent == []
    assert await calls.read(lambda: "answered") == "answered"


async def test_a_write_given_up_on_after_it_went_out_has_an_unknown_outcome() -> None:
    calls = ThreadCalls(trio.CapacityLimiter(2), TIMEOUT_S)
    release = threading.Event()
    landed: list[str] = []

    def write(sending: Sending) -> None:
        sending()
        release.wait(GUARD_S)  # say, a server that stopped mid-commit
        landed.append("landed")

    with trio.fail_after(GUARD_S), pytest.raises(OutcomeUnknown):
        await calls.call(write)
    assert calls.stuck == 1
    release.set()
    await wait_for_stuck_threads(calls)
    assert landed == ["landed"]  # what the thread did after its caller left still happened


async def test_a_caller_cancelled_from_outside_leaves_its_thread_behind() -> None:
    calls = ThreadCalls(trio.CapacityLimiter(1), 0)  # no bound of its own
    release = threading.Event()
    with trio.fail_after(GUARD_S):
        with trio.move_on_after(TIMEOUT_S) as readiness:
            await calls.read(lambda: release.wait(GUARD_S))
        assert readiness.cancelled_caught
        assert calls.stuck == 1
    release.set()
    await wait_for_stuck_threads(calls)
