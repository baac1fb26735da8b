"""RedisLink: the node's connections to Redis, every operation bounded in time and typed in
failure.

Each operation takes an idle connection (or opens one) and does its own I/O on it, so a command
costs one write and one read in the calling task. Every transport failure, and every operation
that takes longer than ``timeout_s`` (a stopped or paused Redis), becomes ``ClusterUnavailable``
and discards the connection it used (its state is unknown then); the next operation connects
again, which is how the node recovers by itself when Redis is back.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

from chatactors.cluster.errors import ClusterUnavailable
from chatactors.cluster.redis_connection import (
    Arg,
    RedisAddress,
    RedisConnection,
    RedisRefused,
    RedisReplyError,
)

log = logging.getLogger(__name__)

#: Transport failures (a refused command, ``RedisReplyError``, is not one and propagates).
TRANSPORT_ERRORS = (OSError, EOFError, trio.BrokenResourceError, trio.ClosedResourceError)

#: Idle connections kept for reuse; more are opened when that many are busy at once.
_IDLE_KEPT = 16
#: Connections in use at once, at most: a burst of operations (a node claiming hundreds of
#: chats after a failover) waits its turn, within the bound, instead of opening a connection
#: each.
MAX_CONNECTIONS = 64


@attrs.frozen
class Script:
    """A Lua script, run by its SHA1 (``EVALSHA``), sent whole only when Redis lacks it."""

    source: str
    sha1: str = attrs.field(init=False)

    @sha1.default
    def _sha1(self) -> str:
        return hashlib.sha1(self.source.encode(), usedforsecurity=False).hexdigest()


@attrs.define(eq=False)
class RedisLink:
    address: RedisAddress
    #: Upper bound on any single operation, connecting included.
    timeout_s: float
    #: Operations that failed on the transport or timed out since start.
    failures: int = 0
    _idle: list[RedisConnection] = attrs.field(factory=list)
    _in_use: trio.CapacityLimiter = attrs.field(
        factory=lambda: trio.CapacityLimiter(MAX_CONNECTIONS)
    )
    _closed: bool = False

    async def execute(self, *args: Arg) -> Any:
        """Run one command; ``ClusterUnavailable`` if Redis does not answer in time,
        ``RedisReplyError`` if it refuses the command."""
        [reply] = await self.execute_many([args])
        if isinstance(reply, RedisReplyError):
            raise reply
        return reply

    async def execute_many(
        self, commands: Sequence[Sequence[Arg]], quiet: Sequence[bool] = ()
    ) -> list[Any]:
        """Run the commands as one pipeline (one write, one round trip); a refused command's
        reply is its ``RedisReplyError``; a ``quiet`` one's is None, unread (see
        ``RedisConnection.execute_many``)."""
        if self._closed:
            raise ClusterUnavailable()
        try:
            with trio.fail_after(self.timeout_s):
                async with self._in_use:
                    return await self._execute(commands, quiet)
        except trio.TooSlowError:
            self.failures += 1
            raise ClusterUnavailable() from None
        except TRANSPORT_ERRORS as error:
            self.failures += 1
            if isinstance(error, RedisRefused):
                log.error("%s", error)
            raise ClusterUnavailable() from error

    async def _execute(self, commands: Sequence[Sequence[Arg]], quiet: Sequence[bool]) -> list[Any]:
        connection = await self._take()
        try:
            replies = await connection.execute_many(commands, quiet)
        except BaseException:
            # Never back in the pool: a cancelled or failed operation leaves replies unread
            # (or half a command written) on the connection.
            with trio.CancelScope(shield=True):
                await connection.aclose()
            raise
        if any(_refuses_us(reply) for reply in replies):
            # Redis wants a password this node lacks (set since it started, say): to the node
            # that Redis is down (503), whatever the command.
            await connection.aclose()
            raise RedisRefused(self.address, str(next(r for r in replies if _refuses_us(r))))
        if self._closed:
            await connection.aclose()
            return replies
        # Connections exist only in the pool or in the hands of an operation holding a turn,
        # so there are never more than MAX_CONNECTIONS. When the last operation of a burst
        # ends, only a few stay open.
        self._idle.append(connection)
        if self._in_use.borrowed_tokens == 1:
            extra, self._idle = self._idle[_IDLE_KEPT:], self._idle[:_IDLE_KEPT]
            for surplus in extra:
                await surplus.aclose()
        return replies

    async def run_script(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        """Run a Lua script by its SHA1, loading it the first time Redis lacks it."""
        numkeys = len(keys)
        reply = (await self.execute_many([["EVALSHA", script.sha1, numkeys, *keys, *args]]))[0]
        if isinstance(reply, RedisReplyError) and str(reply).startswith("NOSCRIPT"):
            # First use, or Redis restarted without its script cache: EVAL caches it.
            reply = (await self.execute_many([["EVAL", script.source, numkeys, *keys, *args]]))[0]
        if isinstance(reply, RedisReplyError):
            raise reply
        return reply

    async def _take(self) -> RedisConnection:
        while self._idle:
            connection = self._idle.pop()
            if connection.idle_and_open():
                return connection
            await connection.aclose()
        return await RedisConnection.open(self.address)

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        with trio.CancelScope(shield=True):
            for connection in idle:
                await connection.aclose()


def _refuses_us(reply: object) -> bool:
    return isinstance(reply, RedisReplyError) and str(reply).startswith(("NOAUTH", "WRONGPASS"))


@asynccontextmanager
async def open_redis_link(url: str, *, timeout_s: float) -> AsyncIterator[RedisLink]:
    """Connects lazily (entering works while Redis is down); closed on exit. ``ValueError``
    if the URL is not a Redis URL."""
    link = RedisLink(RedisAddress.from_url(url), timeout_s)
    try:
        yield link
    finally:
        await link.aclose()


async def check_reachable(url: str, *, timeout_s: float) -> None:
    """Return once Redis answers PING; ``ClusterUnavailable`` (its cause says why) if it cannot
    be reached in time or refuses this node, ``RedisReplyError`` if it refuses the command (a
    password it wants and the URL lacks)."""
    async with open_redis_link(url, timeout_s=timeout_s) as link:
        await link.execute("PING")
