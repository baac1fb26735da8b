"""LeaseKeeper's schedule under Trio's mock clock: when it renews, when it gives up.

Redis is replaced here by a scripted directory, because only the mock clock can show the exact
moments (a renewal that hangs until the lease's local deadline, for example); the same keeper
runs against a real Redis in ``test_keeper.py``.
"""

from __future__ import annotations

import math

import attrs
import pytest
import trio

from chatactors.cluster.errors import ClusterUnavailable, LeaseLost
from chatactors.cluster.keeper import LeaseKeeper
from chatactors.cluster.lease import Lease, LeaseTimer
from chatactors.domain.ids import ChatId

TTL_S = 9.0
LEASE = Lease(ChatId("chat-s"), "node-a", 42, TTL_S)


@attrs.define
class ScriptedDirectory:
    """Answers renewals from a script: True/False, an error to raise, "hang", or "slow" (True
    after a second)."""

    script: list[bool | Exception | str]
    renewed_at: list[float] = attrs.field(factory=list)

    async def renew(self, lease: Lease) -> bool:
        self.renewed_at.append(trio.current_time())
        step = self.script.pop(0) if self.script else True
        if step == "hang":
            await trio.sleep(math.inf)
        if step == "slow":
            await trio.sleep(1.0)
            return True
        if isinstance(step, Exception):
            raise step
        return bool(step)

    async def release(self, lease: Lease) -> bool:
        return True


async def run_keeper(
    directory: ScriptedDirectory, until_s: float
) -> tuple[LeaseKeeper, list[LeaseLost]]:
    lost: list[LeaseLost] = []
    keeper = LeaseKeeper(directory, LEASE, LeaseTimer(trio.current_time(), TTL_S), lost.append)
    with trio.move_on_after(until_s):
        await keeper.run()
    return keeper, lost


async def test_renews_every_third_of_the_ttl(autojump_clock: trio.testing.MockClock) -> None:
    directory = ScriptedDirectory([])
    keeper, lost = await run_keeper(directory, until_s=TTL_S * 3 + 1)
    assert directory.renewed_at == pytest.approx(
        [3.0, 6.0, 9.0, 12.0, 15.0, 18.0, 21.0, 24.0, 27.0]
    )
    assert lost == []
    assert keeper.is_valid()


async def test_a_refused_renewal_loses_the_lease_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    keeper, lost = await run_keeper(ScriptedDirectory([True, False]), until_s=TTL_S * 3)
    assert len(lost) == 1
    assert "another node" in lost[0].reason
    assert keeper.renewals == 1
    assert not keeper.is_valid()


async def test_failed_renewals_are_retried_until_one_succeeds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    down = ClusterUnavailable()
    directory = ScriptedDirectory([down, down, down, True])
    keeper, lost = await run_keeper(directory, until_s=TTL_S)
    assert lost == []
    assert len(directory.renewed_at) >= 4
    # The successful renewal counts from when it was sent, so the lease is valid well past
    # the original deadline.
    assert keeper.timer.valid_until > LeaseTimer(0.0, TTL_S).valid_until


async def test_a_hung_renewal_gives_the_lease_up_at_its_local_deadline(
    autojump_clock: trio.testing.MockClock,
) -> None:
    start = trio.current_time()
    keeper, lost = await run_keeper(ScriptedDirectory(["hang"]), until_s=TTL_S * 3)
    assert len(lost) == 1
    assert "Redis did not answer" in lost[0].reason
    assert "stalled" not in lost[0].reason
    assert keeper.timer.valid_until == pytest.approx(start + LeaseTimer(0.0, TTL_S).valid_until)
    # Given up before Redis could have expired it, so no second owner overlaps this one.
    assert keeper.timer.valid_until < start + TTL_S


async def test_redis_unreachable_until_the_deadline_loses_the_lease_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    directory = ScriptedDirectory([ClusterUnavailable()] * 100)
    keeper, lost = await run_keeper(directory, until_s=TTL_S * 3)
    assert len(lost) == 1
    assert not keeper.is_valid()
    assert max(directory.renewed_at) < LeaseTimer(0.0, TTL_S).valid_until
    assert f"Redis unreachable ({len(directory.renewed_at)} attempts failed)" in lost[0].reason
    assert "stalled" not in lost[0].reason


async def run_paused_keeper(
    directory: ScriptedDirectory, clock: trio.testing.MockClock, *, pause_at: float
) -> list[LeaseLost]:
    """Run a keeper and, at ``pause_at``, stop the whole process (nothing runs) for a TTL: the
    clock jumps, as the monotonic clock does across a SIGSTOP, and every task wakes late."""
    lost: list[LeaseLost] = []
    was_lost = trio.Event()

    def on_lost(error: LeaseLost) -> None:
        lost.append(error)
        was_lost.set()

    keeper = LeaseKeeper(directory, LEASE, LeaseTimer(trio.current_time(), TTL_S), on_lost)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(keeper.run)
        await trio.sleep_until(pause_at)
        clock.jump(TTL_S)
        with trio.move_on_after(TTL_S * 3):
            await was_lost.wait()
        nursery.cancel_scope.cancel()
    return lost


async def test_a_node_paused_before_its_renewal_says_so_not_that_redis_failed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    directory = ScriptedDirectory([])
    # Paused 0.5 s before the renewal at TTL/3 for a TTL: it wakes long past the deadline.
    [lost] = await run_paused_keeper(directory, autojump_clock, pause_at=TTL_S / 3 - 0.5)
    assert directory.renewed_at == []
    assert "stalled (paused, or starved of CPU) and woke 8.5 s after" in lost.reason
    assert "Redis was not asked" in lost.reason
    assert "unreachable" not in lost.reason


async def test_a_node_paused_with_a_renewal_in_flight_says_so(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Redis answers in a second, but the node is paused meanwhile and past the deadline.
    directory = ScriptedDirectory(["slow"])
    [lost] = await run_paused_keeper(directory, autojump_clock, pause_at=TTL_S / 3 + 0.5)
    assert len(directory.renewed_at) == 1
    assert "stalled (paused, or starved of CPU)" in lost.reason
    assert "a renewal was in flight" in lost.reason
    assert "unreachable" not in lost.reason


async def test_a_node_paused_while_redis_was_down_says_both(
    autojump_clock: trio.testing.MockClock,
) -> None:
    down = ClusterUnavailable()
    directory = ScriptedDirectory([down, down, down])
    # Tries at TTL/3 and 0.75 s later fail; paused before the third.
    [lost] = await run_paused_keeper(directory, autojump_clock, pause_at=TTL_S / 3 + 1.0)
    assert "stalled (paused, or starved of CPU)" in lost.reason
    assert "2 of 2 attempts had failed (Redis unreachable)" in lost.reason


async def test_a_short_pause_the_lease_survives_is_no_loss(
    autojump_clock: trio.testing.MockClock,
) -> None:
    lost: list[LeaseLost] = []
    keeper = LeaseKeeper(ScriptedDirectory([]), LEASE, LeaseTimer(0.0, TTL_S), lost.append)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(keeper.run)
        await trio.sleep(TTL_S / 3 - 0.5)
        autojump_clock.jump(2.0)  # the renewal goes out 1.5 s late, still before the deadline
        await trio.sleep(TTL_S * 3)
        nursery.cancel_scope.cancel()
    assert lost == []
    assert keeper.renewals >= 3
