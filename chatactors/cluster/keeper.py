"""LeaseKeeper: renews a chat's lease while its actor lives; tells the actor when it is lost.

Lost means: a renewal found the lease expired or claimed by another node, or Redis could not
confirm a renewal before the lease's local deadline (``LeaseTimer.valid_until``). Either way the
actor must stop at once; its pending callers get ``LeaseLost`` (503) and retry, and reach the new
owner. The callback is synchronous and must not block: the actor typically cancels its scope.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Protocol

import attrs
import trio

from chatactors.cluster.directory import Directory
from chatactors.cluster.errors import ClusterUnavailable, LeaseLost
from chatactors.cluster.lease import Lease, LeaseTimer
from chatactors.domain.ids import ChatId


class Renewer(Protocol):
    """What the keeper needs from the directory (``Directory`` is one)."""

    async def renew(self, lease: Lease) -> bool: ...

    async def release(self, lease: Lease) -> bool: ...


@attrs.define(eq=False)
class LeaseKeeper:
    directory: Renewer
    lease: Lease
    timer: LeaseTimer
    on_lost: Callable[[LeaseLost], None]
    lost: LeaseLost | None = None
    renewals: int = 0

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
        """Renew once, retrying until the local deadline; on failure the lease is lost."""
        while self.timer.is_valid(sent_at := trio.current_time()):
            renewed: bool | None = None
            with trio.move_on_at(self.timer.valid_until):
                try:
                    renewed = await self.directory.renew(self.lease)
                except ClusterUnavailable:
                    await trio.sleep(self.timer.retry_interval_s)
                    continue
            if renewed is None:
                break
            if not renewed:
                self._lose("claimed by another node or expired in Redis")
                return
            self.renewals += 1
            self.timer = self.timer.renewed(sent_at)
            return
        self._lose("not renewed in time: Redis unreachable")

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
