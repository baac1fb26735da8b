"""RedisLink: one coredis client whose every operation is bounded in time and typed in failure.

coredis retries a broken connection itself and reconnects when Redis is back; this wrapper adds
the bound (no caller ever hangs on a stopped or paused Redis) and turns every transport failure
into ``ClusterUnavailable``, so callers have one error to handle.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import TypeVar

import attrs
import coredis
import coredis.exceptions
import trio

from chatactors.cluster.errors import ClusterUnavailable, single_errors

T = TypeVar("T")

#: Transport failures; a ``ResponseError`` (a bug in a script, say) is not one and propagates.
_TRANSPORT_ERRORS = (coredis.exceptions.ConnectionError, TimeoutError, OSError)


@attrs.define(eq=False)
class RedisLink:
    client: coredis.Redis[bytes]
    #: Upper bound on any single operation, including coredis's own retries.
    timeout_s: float
    #: Operations that failed on the transport since start (for /metrics, later).
    failures: int = 0

    async def run(self, operation: Awaitable[T]) -> T:
        """Await one Redis operation; ``ClusterUnavailable`` if it fails or takes too long."""
        try:
            with trio.fail_after(self.timeout_s):
                return await operation
        except trio.TooSlowError:
            self.failures += 1
            raise ClusterUnavailable() from None
        except _TRANSPORT_ERRORS as error:
            self.failures += 1
            raise ClusterUnavailable() from error


@asynccontextmanager
async def open_redis_link(url: str, *, timeout_s: float) -> AsyncIterator[RedisLink]:
    """Connect lazily (entering works while Redis is down); closed on exit."""
    client: coredis.Redis[bytes] = coredis.Redis.from_url(
        url,
        connect_timeout=timeout_s,
        stream_timeout=timeout_s,
        pool_timeout=timeout_s,
    )
    with single_errors():
        async with client:
            yield RedisLink(client, timeout_s)
