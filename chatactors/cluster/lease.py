"""The Lease a node holds on a chat, and the pure arithmetic of keeping it.

Redis expires a lease ``ttl_s`` after it *received* the claim or renewal; the node only knows
when it *sent* it. So the node counts from the moment it sent the request, and stops trusting
the lease a safety margin before that point plus ``ttl_s`` (local clocks run at slightly
different rates). Past ``valid_until`` the actor must stop: another node may already own the
chat, and the store refuses this node's fencing token.
"""

from __future__ import annotations

import attrs

from chatactors.domain.ids import ChatId

#: Fraction of the TTL kept as margin for clock-rate drift and scheduling delay (as Redlock).
DRIFT_FACTOR = 0.05
#: Renewals per TTL: three leaves two more tries if one renewal fails.
RENEWALS_PER_TTL = 3


@attrs.frozen
class Lease:
    """A chat held by one node. ``token`` grows with every activation, cluster-wide: every store
    write carries it, and the store refuses a token older than the newest it has seen."""

    chat_id: ChatId
    node_id: str
    token: int
    ttl_s: float


@attrs.frozen
class LeaseTimer:
    """When a lease confirmed by a request sent at ``sent_at`` needs renewing, and when to give up.

    Times are those of ``trio.current_time()`` (so the mock clock drives the unit tests).
    """

    sent_at: float
    ttl_s: float

    @property
    def valid_until(self) -> float:
        """Until when this node may act as the owner."""
        return self.sent_at + self.ttl_s * (1 - DRIFT_FACTOR)

    @property
    def renew_at(self) -> float:
        return self.sent_at + self.ttl_s / RENEWALS_PER_TTL

    @property
    def retry_interval_s(self) -> float:
        """Pause between attempts after a failed renewal (Redis unreachable)."""
        return self.ttl_s / (4 * RENEWALS_PER_TTL)

    def is_valid(self, now: float) -> bool:
        return now < self.valid_until

    def renewed(self, sent_at: float) -> LeaseTimer:
        """The timer after a successful renewal sent at ``sent_at`` (never moves backwards)."""
        return LeaseTimer(max(self.sent_at, sent_at), self.ttl_s)
