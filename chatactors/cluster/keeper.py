"""LeaseKeeper: renews a chat's lease while its actor lives; tells the actor when it is lost.

Lost means: a renewal found the lease expired or claimed by another node, or no renewal was
confirmed before the lease's local deadline (``LeaseTimer.valid_until``). Either way the actor
must stop at once; its pending callers get ``LeaseLost`` (503) and retry, and reach the new
owner. The callback is synchronous and must not block: the actor typically cancels its scope.

A deadline can pass because Redis did not answer, or because this process did not run (paused
by SIGSTOP or a VM freeze, starved of CPU): the reason given says which, from how late the
keeper woke (Trio's clock is monotonic, so a pause shows as a wake-up far past its due time).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Protocol

import attrs
import trio

from chatactors.cluster.directory import Directory
from chatactors.cluster.errors import ClusterUnavailable, LeaseLost
from chatactors.cluster.lease import DRIFT_FACTOR, Lease, LeaseTimer
from chatactors.domain.ids import ChatId


class Renewer(Protocol):
    """What the keeper needs from the directory (``Directory`` is one)."""

    async def renew(self, lease: Lease) -> bool: ...

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
    directory: Renewer
    lease: Lease
    timer: LeaseTimer
    on_lost: Callable[[LeaseLost], None]
    lost: LeaseLost | None = None
    _renewals: int = 0

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
        """Claim the chat (``ChatHeld`` if another node has it); then ``run`` the keeper."""
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

    async def run(self) -> None:
        """Renew until cancelled (the actor stopped) or until the lease is lost."""
        while self.lost is None:
            await trio.sleep_until(self.timer.renew_at)
            await self.renew_before_deadline()

    async def renew_before_deadline(self) -> None:
        """Renew once (a renewal is due: ``timer.renew_at``), retrying until the local
        deadline; on failure the lease is lost."""
        # How much later than due the keeper last woke up.
        late_s = max(0.0, trio.current_time() - self.timer.renew_at)
        attempts = failures = 0
        while self.timer.is_valid(sent_at := trio.current_time()):
            renewed: bool | None = None
            attempts += 1
            with trio.move_on_at(self.timer.valid_until):
                try:
                    renewed = await self.directory.renew(self.lease)
                except ClusterUnavailable:
                    failures += 1
                    retry_at = trio.current_time() + self.timer.retry_interval_s
                    await trio.sleep_until(retry_at)
                    late_s = trio.current_time() - retry_at
                    continue
            if renewed is None:
                late_s = trio.current_time() - self.timer.valid_until
                break
            if not renewed:
                self._lose("claimed by another node or expired in Redis")
                return
            self._renewals += 1
            self.timer = self.timer.renewed(sent_at)
            return
        self._lose(not_renewed_reason(late_s, attempts, failures, self.lease.ttl_s))

    def abandon(self, lost: LeaseLost) -> None:
        """Stop trusting the lease for a reason of the owner's own (its events could not be
        published in time); ``on_lost`` is not called (the owner knows)."""
        if self.lost is None:
            self.lost = lost

    def _lose(self, reason: str) -> None:
        if self.lost is None:
            self.lost = LeaseLost(self.lease.chat_id, reason)
            self.on_lost(self.lost)

    async def release(self) -> None:
        """Give the chat up on deactivation. Best effort: if Redis is unreachable, the lease
        simply expires after its TTL."""
        self.lost = self.lost or LeaseLost(self.lease.chat_id, "released")
        with contextlib.suppress(ClusterUnavailable):
            await self.directory.release(self.lease)
