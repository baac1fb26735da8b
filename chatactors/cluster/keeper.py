"""LeaseKeepers: every lease a node holds, renewed together by one task; each lease's
LeaseKeeper says whether it is still valid, and tells its actor when it is lost.

Lost means: a renewal found the lease expired or claimed by another node, or no renewal was
confirmed before the lease's local deadline (``LeaseTimer.valid_until``). Either way the actor
must stop at once; its pending callers get ``LeaseLost`` (503) and retry, and reach the new
owner. The callback is synchronous and must not block: the actor typically cancels its scope.

A deadline can pass because Redis did not answer, or because this process did not run (paused
by SIGSTOP or a VM freeze, starved of CPU): the reason given says which, from how late the
renewal woke up (Trio's clock is monotonic, so a pause shows as a wake-up far past its due
time).

One task renews every lease of the node (``LeaseKeepers.run``), in one script call per round:
a node holding many chats costs Redis a call per ``ttl/3``, and itself one wake-up, instead of
a task waking per chat (60 a second for 100 chats). A round also renews the leases due within
half a renewal interval, early, so that the node's leases come to share their rounds.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

import attrs
import trio

from chatactors.cluster.directory import Directory
from chatactors.cluster.errors import ClusterUnavailable, LeaseLost
from chatactors.cluster.lease import DRIFT_FACTOR, RENEWALS_PER_TTL, Lease, LeaseTimer
from chatactors.domain.ids import ChatId

log = logging.getLogger(__name__)


class Renewer(Protocol):
    """What the keepers need from the directory (``Directory`` is one)."""

    async def renew_all(self, leases: Sequence[Lease]) -> list[bool]: ...

    async def release(self, lease: Lease) -> bool: ...


def not_renewed_reason(late_s: float, attempts: int, failures: int, ttl_s: float) -> str:
    """Why a lease's deadline passed with no renewal confirmed, as far as its keeper can tell.

    ``late_s``: how much later than due the keeper last woke; ``attempts``: renewals it sent
    (``failures`` of them refused by the transport: Redis unreachable). A Redis that does not
    answer leaves the keeper on time at its deadline; only a process that did not run wakes
    later than the lease's margin for scheduling delays (``DRIFT_FACTOR`` of the TTL).
    """
    if attempts == 0:
        return (
            f"not renewed in time: this node stalled (paused, or starved of CPU) and woke "
            f"{late_s:.1f} s after the renewal was due, past the deadline; Redis was not asked"
        )
    if late_s > ttl_s * DRIFT_FACTOR:
        before = (
            f"{failures} of {attempts} attempts had failed (Redis unreachable)"
            if failures
            else "a renewal was in flight"
        )
        return (
            f"not renewed in time: this node stalled (paused, or starved of CPU) and woke "
            f"{late_s:.1f} s past the deadline; {before}"
        )
    if failures:
        return f"not renewed in time: Redis unreachable ({failures} attempts failed)"
    return "not renewed in time: Redis did not answer before the deadline (unreachable or slow)"


@attrs.define(eq=False)
class LeaseKeeper:
    """One lease this node holds: valid or not, and why it was lost. Renewed by the node's
    ``LeaseKeepers`` once given to them (``LeaseKeepers.keep``)."""

    directory: Renewer
    lease: Lease
    timer: LeaseTimer
    on_lost: Callable[[LeaseLost], None]
    lost: LeaseLost | None = None
    #: When the next renewal is due: the timer's, or a retry's after a failed attempt.
    due_at: float = attrs.field(init=False)
    _renewals: int = 0
    #: Since the last confirmed renewal: attempts sent, those the transport refused (Redis
    #: unreachable), and how much later than due the last one woke.
    _attempts: int = 0
    _failures: int = 0
    _late_s: float = 0.0

    def __attrs_post_init__(self) -> None:
        self.due_at = self.timer.renew_at

    @property
    def renewals(self) -> int:
        """Renewals Redis confirmed so far."""
        return self._renewals

    @classmethod
    async def claim(
        cls,
        directory: Directory,
        chat_id: ChatId,
        node_id: str,
        on_lost: Callable[[LeaseLost], None],
    ) -> LeaseKeeper:
        """Claim the chat (``ChatHeld`` if another node has it); then ``LeaseKeepers.keep``
        the keeper."""
        sent_at = trio.current_time()
        lease = await directory.claim(chat_id, node_id)
        return cls(directory, lease, LeaseTimer(sent_at, lease.ttl_s), on_lost)

    @property
    def token(self) -> int:
        """The fencing token every store write of this activation carries."""
        return self.lease.token

    def is_valid(self) -> bool:
        """Whether this node may still act as the chat's owner (checked before delivering)."""
        return self.lost is None and self.timer.is_valid(trio.current_time())

    def abandon(self, lost: LeaseLost) -> None:
        """Stop trusting the lease for a reason of the owner's own (its events could not be
        published in time); ``on_lost`` is not called (the owner knows)."""
        if self.lost is None:
            self.lost = lost

    async def release(self) -> None:
        """Give the chat up on deactivation. Best effort: if Redis is unreachable, the lease
        simply expires after its TTL."""
        self.lost = self.lost or LeaseLost(self.lease.chat_id, "released")
        with contextlib.suppress(ClusterUnavailable):
            await self.directory.release(self.lease)

    # What a round of renewals does with each keeper (``LeaseKeepers``).

    def _attempt(self, now: float) -> None:
        self._attempts += 1
        self._late_s = max(0.0, now - self.due_at)

    def _renewed(self, sent_at: float) -> None:
        self._renewals += 1
        self.timer = self.timer.renewed(sent_at)
        self.due_at = self.timer.renew_at
        self._attempts = self._failures = 0
        self._late_s = 0.0

    def _failed(self, now: float) -> None:
        """The transport refused the attempt: retried after a pause (if still valid then)."""
        self._failures += 1
        self.due_at = now + self.timer.retry_interval_s

    def _expire(self, now: float) -> None:
        """The deadline passed with no renewal confirmed: lost, saying why."""
        late_s = max(0.0, now - self.due_at) if self.due_at <= now else self._late_s
        reason = not_renewed_reason(late_s, self._attempts, self._failures, self.lease.ttl_s)
        self._lose(reason)

    def _unanswered(self, now: float) -> None:
        """An attempt was still in flight at the deadline: lost, saying why."""
        reason = not_renewed_reason(
            now - self.timer.valid_until, self._attempts, self._failures, self.lease.ttl_s
        )
        self._lose(reason)

    def _lose(self, reason: str) -> None:
        if self.lost is None:
            self.lost = LeaseLost(self.lease.chat_id, reason)
            self.on_lost(self.lost)


@attrs.frozen
class LeaseKeepersStatistics:
    #: Leases held and renewed now.
    held: int
    #: Renewals Redis confirmed, and rounds of renewals sent (each a script call per 500).
    renewals: int
    rounds: int


@attrs.define(eq=False)
class LeaseKeepers:
    """Every lease this node holds, renewed together by :meth:`run`."""

    _directory: Renewer
    _keepers: set[LeaseKeeper] = attrs.field(factory=set)
    #: Set when a keeper is given while none was held (``run`` waits for one).
    _kept: trio.Event = attrs.field(factory=trio.Event)
    _renewals: int = 0
    _rounds: int = 0

    def statistics(self) -> LeaseKeepersStatistics:
        return LeaseKeepersStatistics(len(self._keepers), self._renewals, self._rounds)

    def keep(self, keeper: LeaseKeeper) -> None:
        """Renew ``keeper``'s lease until it is lost or :meth:`forget` is called. (Its first
        renewal is due a third of a TTL after its claim: never before those of the leases held
        already, so the round they wait for comes first.)"""
        self._keepers.add(keeper)
        self._kept.set()

    def forget(self, keeper: LeaseKeeper) -> None:
        self._keepers.discard(keeper)

    async def run(self) -> None:
        """Renew, round after round, for the node's lifetime."""
        while True:
            if not self._keepers:
                self._kept = trio.Event()
                await self._kept.wait()
                continue
            await trio.sleep_until(min(keeper.due_at for keeper in self._keepers))
            await self._round()

    async def _round(self) -> None:
        now = trio.current_time()
        for keeper in list(self._keepers):
            if keeper.lost is not None:
                self._keepers.discard(keeper)  # abandoned by its owner
            elif not keeper.timer.is_valid(now):
                self._keepers.discard(keeper)  # this node stalled, or Redis kept failing
                keeper._expire(now)
        batch = [keeper for keeper in self._keepers if keeper.due_at <= now + _early_s(keeper)]
        if not batch:
            return
        for keeper in batch:
            keeper._attempt(now)
        self._rounds += 1
        renewed: list[bool] | None = None
        # Never past the earliest deadline: an answer after it would come too late for that
        # lease (and the others' are asked again at once).
        with trio.move_on_at(min(keeper.timer.valid_until for keeper in batch)):
            try:
                renewed = await self._directory.renew_all([keeper.lease for keeper in batch])
            except Exception as error:
                if not isinstance(error, ClusterUnavailable):
                    # A bug: these leases are asked for again, as after a failure, and the
                    # node's other work goes on (a task per node must not die of one round).
                    log.exception("renewing leases failed")
                after = trio.current_time()
                for keeper in batch:
                    keeper._failed(after)
                return
        if renewed is None:
            after = trio.current_time()
            for keeper in batch:
                if not keeper.timer.is_valid(after):
                    self._keepers.discard(keeper)
                    keeper._unanswered(after)
                else:
                    keeper.due_at = after
            return
        for keeper, held in zip(batch, renewed, strict=True):
            if keeper not in self._keepers or keeper.lost is not None:
                continue  # released or abandoned meanwhile
            if held:
                self._renewals += 1
                keeper._renewed(now)
            else:
                self._keepers.discard(keeper)
                keeper._lose("claimed by another node or expired in Redis")


def _early_s(keeper: LeaseKeeper) -> float:
    """How early a round may renew a lease: half its renewal interval."""
    return keeper.lease.ttl_s / RENEWALS_PER_TTL / 2
