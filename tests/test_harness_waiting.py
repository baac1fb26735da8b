"""tests/harness/waiting.py: a poll returns once its condition holds, and fails naming what
did not happen, also when the condition itself hangs."""

from __future__ import annotations

import itertools

import pytest
import trio
import trio.testing

from tests.harness.waiting import wait_until, wait_until_async


def test_wait_until_returns_once_the_condition_holds() -> None:
    looks = itertools.count(1)
    wait_until(lambda: next(looks) == 3, 10, "the third look")
    assert next(looks) == 4


def test_wait_until_fails_naming_what_did_not_happen() -> None:
    with pytest.raises(AssertionError, match=r"not within 0.1 s: the impossible"):
        wait_until(lambda: False, 0.1, "the impossible")


async def test_wait_until_async_takes_sync_and_async_conditions(
    autojump_clock: trio.testing.MockClock,
) -> None:
    looks = itertools.count(1)
    await wait_until_async(lambda: next(looks) == 3, 10, "the third look")

    async def answered() -> bool:
        await trio.sleep(1)
        return next(looks) == 6

    await wait_until_async(answered, 10, "the sixth look")
    assert next(looks) == 7


async def test_wait_until_async_bounds_a_condition_that_hangs(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def hangs() -> bool:
        await trio.sleep_forever()

    with pytest.raises(AssertionError, match=r"not within 5 s: an answer"):
        await wait_until_async(hangs, 5, "an answer")
