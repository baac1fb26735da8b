"""LeaseKeepers' schedule under Trio's mock clock: when a lease is renewed, when it is given up.

Redis is replaced here by a scripted directory, because only the mock clock can show the exact
moments (a renewal that hangs until the lease's local deadline, for example); the same keepers
run against a real Redis in ``test_keeper.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import pytest
import trio

from chatactors.cluster.errors import ClusterUnavailable, LeaseLost
from chatactors.cluster.keeper import LeaseKeeper, LeaseKeepers, LeaseKeepersStatistics
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
    #: How many leases each call renewed.
    calls: list[int] = attrs.field(factory=list)

    async def renew_all(self, leases: Sequence[Lease]) -> list[bool]:
        self.renewed_at.append(trio.current_time())
        self.calls.append(len(leases))
        step = self.script.pop(0) if self.script else True
        if step == "hang":
            await trio.sleep(math.inf)
        if step == "slow":
            await trio.sleep(1.0)
            return [True] * len(leases)
        if isinstance(step, Exception):
            raise step
        return [bool(step)] * len(leases)

    async def release(self, lease: Lease) -> bool:
        return True


async def run_keeper(
    directory: ScriptedDirectory, until_s: float
) -> tuple[LeaseKeeper, list[LeaseLost]]:
    lost: list[LeaseLost] = []
    keeper = LeaseKeeper(directory, LEASE, LeaseTimer(trio.current_time(), TTL_S), lost.append)
    keepers = LeaseKeepers(directory)
    keepers.keep(keeper)
    with trio.move_on_after(until_s):
        await keepers.run()
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
    keepers = LeaseKeepers(directory)
    keepers.keep(keeper)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(keepers.run)
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
    directory = ScriptedDirectory([])
    keeper = LeaseKeeper(directory, LEASE, LeaseTimer(0.0, TTL_S), lost.append)
    keepers = LeaseKeepers(directory)
    keepers.keep(keeper)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(keepers.run)
        await trio.sleep(TTL_S / 3 - 0.5)
        autojump_clock.jump(2.0)  # the renewal goes out 1.5 s late, still before the deadline
        await trio.sleep(TTL_S * 3)
        nursery.cancel_scope.cancel()
    assert lost == []
    assert keeper.renewals >= 3


def lease(n: int) -> Lease:
    return Lease(ChatId(f"chat-{n}"), "node-a", 100 + n, TTL_S)


async def test_leases_claimed_at_different_times_come_to_share_their_rounds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    directory = ScriptedDirectory([])
    keepers = LeaseKeepers(directory)
    lost: list[LeaseLost] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(keepers.run)
        for n in range(10):  # one claim every 0.3 s: due 3.0 to 5.7 s
            keepers.keep(LeaseKeeper(directory, lease(n), LeaseTimer(0.3 * n, TTL_S), lost.append))
            await trio.sleep(0.3)
        await trio.sleep(TTL_S * 3)
        nursery.cancel_scope.cancel()
    assert lost == []
    # The first round (3.0 s) takes those due within half a renewal interval (by 4.5 s); the
    # second (4.8 s) the rest, and the first six early (due at 6.0 s): from then on one call
    # renews all ten, every third of the TTL.
    assert directory.calls == [6] + [10] * 9
    assert directory.renewed_at == pytest.approx([3.0, 4.8] + [4.8 + 3 * k for k in range(1, 9)])
    assert keepers.statistics() == LeaseKeepersStatistics(
        held=10, renewals=sum(directory.calls), rounds=len(directory.calls)
    )


@attrs.define
class RefusingDirectory(ScriptedDirectory):
    """Answers False for the leases of ``refused`` chats, True for the others."""

    refused: set[ChatId] = attrs.field(factory=set)

    async def renew_all(self, leases: Sequence[Lease]) -> list[bool]:
        await super().renew_all(leases)
        return [each.chat_id not in self.refused for each in leases]


async def test_a_lease_refused_in_a_round_is_lost_alone(
    autojump_clock: trio.testing.MockClock,
) -> None:
    directory = RefusingDirectory([], refused={ChatId("chat-1")})
    keepers = LeaseKeepers(directory)
    lost: list[LeaseLost] = []
    kept = [LeaseKeeper(directory, lease(n), LeaseTimer(0.0, TTL_S), lost.append) for n in range(3)]
    for keeper in kept:
        keepers.keep(keeper)
    with trio.move_on_after(TTL_S * 2):
        await keepers.run()
    assert [error.chat_id for error in lost] == [ChatId("chat-1")]
    assert [keeper.is_valid() for keeper in kept] == [True, False, True]
    assert directory.calls[0] == 3
    assert set(directory.calls[1:]) == {2}  # the lost one is not asked for again


async def test_a_forgotten_lease_is_renewed_no_more(
    autojump_clock: trio.testing.MockClock,
) -> None:
    directory = ScriptedDirectory([])
    keepers = LeaseKeepers(directory)
    kept = [LeaseKeeper(directory, lease(n), LeaseTimer(0.0, TTL_S), print) for n in range(2)]
    for keeper in kept:
        keepers.keep(keeper)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(keepers.run)
        await trio.sleep(TTL_S / 3 + 0.1)
        keepers.forget(kept[0])  # its chat deactivated
        await trio.sleep(TTL_S)
        keepers.forget(kept[1])
        await trio.sleep(TTL_S)  # nothing held: no round at all
        nursery.cancel_scope.cancel()
    assert directory.calls == [2, 1, 1, 1]
    assert keepers.statistics().held == 0


async def test_a_hung_round_loses_the_lease_due_first_and_renews_the_other(
    autojump_clock: trio.testing.MockClock,
) -> None:
    directory = ScriptedDirectory(["hang", True])
    keepers = LeaseKeepers(directory)
    lost: list[LeaseLost] = []
    # Claimed a second apart: renewed in one round, whose call hangs until the first deadline.
    first = LeaseKeeper(directory, lease(1), LeaseTimer(0.0, TTL_S), lost.append)
    second = LeaseKeeper(directory, lease(2), LeaseTimer(1.0, TTL_S), lost.append)
    keepers.keep(first)
    keepers.keep(second)
    with trio.move_on_after(TTL_S):
        await keepers.run()
    assert [error.chat_id for error in lost] == [ChatId("chat-1")]
    assert "Redis did not answer" in lost[0].reason
    # Asked again at once for the other, still valid for a second: renewed.
    assert directory.renewed_at[1] == pytest.approx(LeaseTimer(0.0, TTL_S).valid_until)
    assert directory.calls == [2, 1]
    assert second.is_valid()
    assert second.timer.valid_until > LeaseTimer(1.0, TTL_S).valid_until


async def test_a_round_that_fails_of_a_bug_is_logged_and_tried_again(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    directory = ScriptedDirectory([RuntimeError("a bug"), True])
    keeper, lost = await run_keeper(directory, until_s=TTL_S / 2)
    assert lost == []
    assert keeper.renewals == 1
    assert directory.renewed_at == pytest.approx([3.0, 3.0 + TTL_S / 12])
    assert "renewing leases failed" in caplog.text
