"""ClusterRateLimiter: a user's send limit held for the whole cluster, in Redis.

Each node limiting on its own would give a user posting through N nodes N times the configured
rate. So in cluster mode each send is checked against one bucket per user in Redis: GCRA (the
generic cell rate algorithm, as redis-cell and most API gateways run it), one Lua script call per
check: atomic, one round trip, on Redis's clock (``TIME``), so nodes' clocks never matter. The
bucket is a single key, ``chatactors:rate:send:<user_id>``, holding the user's theoretical
arrival time; it expires once the bucket would be full again, so idle users cost nothing.
GCRA with emission interval ``T = 1 / rate`` and tolerance ``burst x T`` admits exactly what the
per-process token bucket (``web/rate_limit.py``) admits: ``burst`` sends at once, then ``rate``
a second.

Two things stay on the node:

- **A gate.** The node's own token bucket, debited with the sends the cluster admitted through
  this node, never holds fewer tokens than the cluster's (it refills alike and loses a subset
  of the same sends), so a user it finds empty is over the cluster's limit too: refused without
  asking Redis. A flood through one node costs Redis at most ``rate`` checks a second.
- **A fallback.** When Redis does not answer (down, failing over, slower than
  ``redis_timeout_s``), a check does not wait or fail: the node's bucket decides alone (fail
  open to the per-node limit), and keeps deciding for ``fallback_s`` (a second by default)
  before Redis is asked again (so an outage costs one timeout a while, not one per send).
  Refusing every send because the limiter's store is down would turn a Redis outage into a
  chat outage, for a limit whose job is to stop floods, which the per-node limit still does
  (within N times the rate). Cluster mode
  already needs Redis for every chat a node does not hold, so those sends fail with 503 anyway.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Protocol

import attrs
import trio

from chatactors.cluster.redis import RedisLink, RedisReplyError, RedisUnavailable, Script
from chatactors.domain.errors import RateLimited
from chatactors.domain.ids import UserId

log = logging.getLogger(__name__)

#: After Redis failed a check, the node decides alone for this long before asking it again.
FALLBACK_S = 1.0

#: KEYS[1]: the user's bucket. ARGV: the emission interval and the tolerance (burst x interval),
#: in microseconds. Returns 0 (admitted and counted) or the microseconds to wait.
GCRA = Script("""
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local tat = math.max(tonumber(redis.call('GET', KEYS[1])) or now, now)
local new_tat = tat + interval
local allow_at = new_tat - tonumber(ARGV[2])
if now < allow_at then
  return allow_at - now
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return 0
""")


def send_key(user_id: str) -> str:
    return f"chatactors:rate:send:{user_id}"


class LocalLimiter(Protocol):
    """The node's own buckets (``web/rate_limit.py``'s ``RateLimiter``)."""

    def check(self, user_id: str) -> None: ...

    def spend(self, user_id: str) -> None: ...

    def take(self, user_id: str) -> None: ...


@attrs.frozen
class RateLimiterStatistics:
    #: Checks Redis answered; checks decided here because it did not; sends the gate refused.
    checks: int
    fallbacks: int
    refused_here: int


@attrs.define(eq=False)
class ClusterRateLimiter:
    _link: RedisLink
    rate_per_s: float
    burst: int
    #: The node's own buckets, same rate and burst: the gate and the fallback.
    _local: LocalLimiter
    clock: Callable[[], float] = trio.current_time
    #: After Redis failed a check, how long the node decides alone before asking it again.
    fallback_s: float = FALLBACK_S
    #: Until when checks are decided here alone (Redis failed one lately).
    _alone_until: float = -math.inf
    _checks: int = 0
    _fallbacks: int = 0
    _refused_here: int = 0

    def statistics(self) -> RateLimiterStatistics:
        return RateLimiterStatistics(self._checks, self._fallbacks, self._refused_here)

    async def charge(self, user_id: UserId) -> None:
        """Count one send of ``user_id`` for the cluster. Raises ``RateLimited`` over the limit."""
        try:
            self._local.check(user_id)
        except RateLimited:
            self._refused_here += 1
            raise
        if self.clock() < self._alone_until:
            self._fallbacks += 1
            self._local.take(user_id)
            return
        try:
            wait_us = await self._link.run_script(
                GCRA, [send_key(user_id)], [self._interval_us, self._tolerance_us]
            )
        except (RedisUnavailable, RedisReplyError) as error:
            log.warning("rate limits held per node for %.0f s: Redis failed a check (%r)",
                        self.fallback_s, error)  # fmt: skip
            self._alone_until = self.clock() + self.fallback_s
            self._fallbacks += 1
            self._local.take(user_id)
            return
        self._checks += 1
        if wait_us > 0:
            raise RateLimited(math.ceil(wait_us / 100_000) / 10)
        self._local.spend(user_id)

    @property
    def _interval_us(self) -> int:
        return max(1, round(1_000_000 / self.rate_per_s)) if self.rate_per_s > 0 else 2**52

    @property
    def _tolerance_us(self) -> int:
        return self.burst * self._interval_us
