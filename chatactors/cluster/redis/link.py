"""RedisLink: a process's connections to one Redis, every operation bounded in time and typed in
failure.

Each operation takes an idle connection (or opens one) and does its own I/O on it, so a command
costs one write and one read in the calling task. Every transport failure (a reset, a refused
connection, a TLS handshake that fails), every failover reply (``errors.FAILOVER_REPLIES``) and
every operation that takes longer than ``timeout_s`` (a stopped or paused Redis) becomes the
link's ``unavailable`` error and discards the connection it used (its state is unknown then).

It also marks Redis down (``health.Health``): the idle connections are closed (they lead to a
server that failed; a managed endpoint may lead to a new primary once connected again), and
until Redis answers again operations fail at once, but for one probe per backoff (jittered,
doubling to a second), which connects and runs. So an outage costs Redis one connection attempt
per backoff, not one per request, and callers an immediate "try again"; the link recovers by
itself when Redis is back.
"""

from __future__ import annotations

import hashlib
import logging
import random
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

from chatactors.cluster.redis.address import RedisAddress, TlsFiles
from chatactors.cluster.redis.connection import Arg, RedisConnection
from chatactors.cluster.redis.errors import (
    TRANSPORT_ERRORS,
    RedisFailingOver,
    RedisRefused,
    RedisReplyError,
    RedisTlsRejected,
    RedisUnavailable,
    is_failover,
    is_refusal,
    tls_reason,
)
from chatactors.cluster.redis.health import FIRST_BACKOFF_S, MAX_BACKOFF_S, Attempt, Health

log = logging.getLogger(__name__)

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


@attrs.frozen
class LinkStatistics:
    #: Whether Redis is known down now (operations fail at once but for a probe).
    down: bool
    #: Operations that failed (transport, timeout, refusal, failover) since start.
    failures: int
    #: Operations refused at once because Redis was known down (no connection attempted).
    fast_failures: int
    #: Connections opened, and times Redis went down.
    connects: int
    outages: int
    #: Connections in use now, and idle in the pool.
    in_use: int
    idle: int


@attrs.define(eq=False)
class RedisLink:
    address: RedisAddress
    #: Upper bound on any single operation, connecting included.
    timeout_s: float
    #: What the link raises when Redis cannot serve (its cause says why): a subclass of
    #: ``RedisUnavailable`` that the application already answers as "try again".
    unavailable: type[RedisUnavailable] = RedisUnavailable
    #: The TLS context of ``rediss://`` connections (None: the system's CA store).
    tls: ssl.SSLContext | None = None
    #: Connections in use at once, at most.
    max_connections: int = MAX_CONNECTIONS
    _health: Health = attrs.field(factory=Health)
    _failures: int = 0
    _fast_failures: int = 0
    _connects: int = 0
    _outages: int = 0
    _idle: list[RedisConnection] = attrs.field(factory=list)
    _in_use: trio.CapacityLimiter = attrs.field(init=False)
    _closed: bool = False

    def __attrs_post_init__(self) -> None:
        self._in_use = trio.CapacityLimiter(self.max_connections)

    @property
    def down(self) -> bool:
        """Whether Redis is known down (operations fail at once but for a probe now and then)."""
        return self._health.down

    def statistics(self) -> LinkStatistics:
        return LinkStatistics(
            down=self._health.down,
            failures=self._failures,
            fast_failures=self._fast_failures,
            connects=self._connects,
            outages=self._outages,
            in_use=self._in_use.borrowed_tokens,
            idle=len(self._idle),
        )

    async def execute(self, *args: Arg) -> Any:
        """Run one command; ``unavailable`` if Redis cannot serve it in time,
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
        ``RedisConnection.execute_many``). A failover reply to any fails them all with
        ``unavailable`` (some may have run)."""
        attempt = self._attempt()
        try:
            with trio.fail_after(self.timeout_s):
                async with self._in_use:
                    replies = await self._execute(commands, quiet)
        except BaseException as error:
            unavailable = self._failed(error, attempt)
            if unavailable is None:
                raise
            raise unavailable from unavailable.__cause__
        self._succeeded()
        return replies

    async def connect(self) -> RedisConnection:
        """A connection of the caller's own (a Pub/Sub connection, kept open), opened through
        the same gate as operations: ``unavailable`` at once while Redis is known down and not
        due for a probe, or if it cannot be reached in time."""
        attempt = self._attempt()
        try:
            with trio.fail_after(self.timeout_s):
                connection = await self._open()
                try:
                    # Answered, not just accepted (a paused Redis's kernel still accepts).
                    self._check(await connection.execute_many([("PING",)]))
                except BaseException:
                    with trio.CancelScope(shield=True):
                        await connection.aclose()
                    raise
        except BaseException as error:
            unavailable = self._failed(error, attempt)
            if unavailable is None:
                raise
            raise unavailable from unavailable.__cause__
        self._succeeded()
        return connection

    def _attempt(self) -> Attempt:
        if self._closed:
            raise self.unavailable()
        attempt = self._health.attempt(trio.current_time())
        if attempt is Attempt.REFUSED:
            self._fast_failures += 1
            raise self.unavailable()
        return attempt

    def _failed(self, error: BaseException, attempt: Attempt) -> RedisUnavailable | None:
        """What to raise for ``error``: Redis's failures become ``unavailable`` (and may mark
        Redis down); None for anything else (a cancellation, a bug: raised as it is)."""
        if isinstance(error, trio.TooSlowError):
            cause: BaseException = TimeoutError(f"no answer within {self.timeout_s} s")
        elif isinstance(error, TRANSPORT_ERRORS):
            cause = error
            # An alert after the handshake (the server refused this client's certificate, or
            # wanted one) says more than "connection broken".
            reason = tls_reason(error) if self.address.tls else None
            if reason is not None and not isinstance(error, RedisTlsRejected):
                cause = RedisTlsRejected(self.address.where, reason)
                cause.__cause__ = error
        else:
            self._health.abandoned(attempt)
            return None
        self._failures += 1
        if self._health.failed(trio.current_time(), random.uniform(0.5, 1.0), attempt):
            self._outages += 1
            log_failure = log.error if isinstance(cause, RedisRefused) else log.warning
            log_failure(
                "Redis at %s unavailable (%s): failing fast, reconnecting with backoff",
                self.address.where,
                cause,
            )
            self._drop_idle()
        unavailable = self.unavailable()
        unavailable.__cause__ = cause
        return unavailable

    def _succeeded(self) -> None:
        since = self._health.succeeded()
        if since is not None:
            log.warning(
                "Redis at %s reachable again after %.1f s",
                self.address.where,
                trio.current_time() - since,
            )

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
        try:
            self._check(replies)
        except BaseException:
            await connection.aclose()
            raise
        if self._closed:
            await connection.aclose()
            return replies
        # Connections exist only in the pool or in the hands of an operation holding a turn,
        # so there are never more than max_connections. When the last operation of a burst
        # ends, only a few stay open.
        self._idle.append(connection)
        if self._in_use.borrowed_tokens == 1:
            extra, self._idle = self._idle[_IDLE_KEPT:], self._idle[:_IDLE_KEPT]
            for surplus in extra:
                await surplus.aclose()
        return replies

    def _check(self, replies: list[Any]) -> None:
        """Raise if a reply says this Redis cannot serve: a password this client lacks (set
        since it connected, say) or a failover under way; to the caller, Redis is then down,
        whatever the command."""
        for reply in replies:
            if is_refusal(reply):
                raise RedisRefused(self.address.where, str(reply))
            if is_failover(reply):
                raise RedisFailingOver(self.address.where, reply)

    async def run_script(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        """Run a Lua script by its SHA1, loading it the first time Redis lacks it."""
        numkeys = len(keys)
        reply = (await self.execute_many([["EVALSHA", script.sha1, numkeys, *keys, *args]]))[0]
        if isinstance(reply, RedisReplyError) and reply.code == "NOSCRIPT":
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
        return await self._open()

    async def _open(self) -> RedisConnection:
        connection = await RedisConnection.open(self.address, self.tls)
        self._connects += 1
        return connection

    def _drop_idle(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            # A socket close; nothing to wait for (no TLS goodbye to a failing server).
            connection.close_now()

    async def aclose(self) -> None:
        self._closed = True
        self._drop_idle()


@asynccontextmanager
async def open_redis_link(
    url: str,
    *,
    timeout_s: float,
    tls: TlsFiles | None = None,
    unavailable: type[RedisUnavailable] = RedisUnavailable,
    max_connections: int = MAX_CONNECTIONS,
    max_backoff_s: float = MAX_BACKOFF_S,
) -> AsyncIterator[RedisLink]:
    """Connects lazily (entering works while Redis is down); closed on exit. ``ValueError``
    if the URL is not a Redis URL; ``OSError`` or ``ssl.SSLError`` if a TLS file cannot be
    read or used. While Redis is down, one connection attempt per backoff, which doubles up
    to ``max_backoff_s``."""
    address = RedisAddress.from_url(url)
    context = (tls or TlsFiles()).client_context() if address.tls else None
    health = Health(max_backoff_s=max(max_backoff_s, FIRST_BACKOFF_S))
    link = RedisLink(address, timeout_s, unavailable, context, max_connections, health)
    try:
        yield link
    finally:
        await link.aclose()


async def check_reachable(url: str, *, timeout_s: float, tls: TlsFiles | None = None) -> None:
    """Return once Redis answers PING; ``RedisUnavailable`` (its cause says why) if it cannot
    be reached in time or refuses this client, ``RedisReplyError`` if it refuses the command."""
    async with open_redis_link(url, timeout_s=timeout_s, tls=tls) as link:
        await link.execute("PING")
