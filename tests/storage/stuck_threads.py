"""Waiting, without sleeping, for the threads a store gave up on to return."""

from __future__ import annotations

import trio

from chatactors.storage.thread_calls import ThreadCalls

#: A thread held on an event waits at most this; so does a test for it.
GUARD_S = 10


async def wait_for_stuck_threads(calls: ThreadCalls) -> None:
    """Every token back: each thread given up on keeps its token until it returns."""
    borrowers = [object() for _ in range(int(calls.limiter.total_tokens))]
    with trio.fail_after(GUARD_S):
        for borrower in borrowers:
            await calls.limiter.acquire_on_behalf_of(borrower)
    for borrower in borrowers:
        calls.limiter.release_on_behalf_of(borrower)
    assert calls.stuck == 0
