"""Per-user rate limits for sending messages: a token bucket per user, in this process.

The buckets are touched only synchronously on the event loop's thread (no await between reading
and updating one), so no two requests can interleave on a bucket and no lock is needed. In
cluster mode the limit holds for the cluster (``chatactors.cluster.rate_limits``), and this
process's buckets are its gate and its fallback.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

import attrs

from chatactors.domain.errors import RateLimited
from chatactors.domain.ids import UserId


class SendLimiter(Protocol):
    async def charge(self, user_id: UserId) -> None:
        """Count one message send of ``user_id``. Raises ``RateLimited`` over the limit."""
        ...


@attrs.define
class _Bucket:
    tokens: float
    updated: float


@attrs.define(eq=False)
class RateLimiter:
    rate_per_s: float
    burst: int
    clock: Callable[[], float]
    #: Buckets of users seen lately; the oldest are forgotten past this many (a full bucket
    #: and a forgotten one behave the same, so forgetting is safe).
    max_users: int
    _buckets: OrderedDict[str, _Bucket] = attrs.field(factory=OrderedDict)

    async def charge(self, user_id: UserId) -> None:
        self.take(user_id)

    def take(self, user_id: str) -> None:
        """Spend one token of ``user_id``'s bucket. Raises ``RateLimited`` if it is empty."""
        self.check(user_id)
        self.spend(user_id)

    def check(self, user_id: str) -> None:
        """Raises ``RateLimited`` if ``user_id``'s bucket is empty; spends nothing."""
        bucket = self._refilled(user_id)
        if bucket.tokens < 1:
            raise RateLimited(math.ceil((1 - bucket.tokens) / self.rate_per_s * 10) / 10)

    def spend(self, user_id: str) -> None:
        """Spend one token of ``user_id``'s bucket, whatever it holds (never below empty)."""
        bucket = self._refilled(user_id)
        bucket.tokens = max(0.0, bucket.tokens - 1)

    def _refilled(self, user_id: str) -> _Bucket:
        now = self.clock()
        bucket = self._buckets.pop(user_id, None) or _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate_per_s)
        bucket.updated = now
        self._buckets[user_id] = bucket
        while len(self._buckets) > self.max_users:
            self._buckets.popitem(last=False)
        return bucket
