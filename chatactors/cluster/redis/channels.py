"""Channels: one Redis Pub/Sub connection per process, each channel dispatched to a handler.

Handlers are synchronous and must never block (they offer to bounded queues with
``send_nowait``), so one slow consumer can never hold up the connection or the other channels.
When the connection breaks (Redis restarted, failing over, or silent for longer than the link's
timeout), the process connects again, with backoff and through the link's gate (one connection
attempt at a time while Redis is down), and subscribes again to every channel it listens to;
messages published meanwhile are lost (Pub/Sub keeps nothing), which is why subscribers resume
by ``seq``. Whatever goes wrong in here (a message no handler can take, a reply that is not
RESP, a bug) costs at most the connection, never the task that keeps it.

Commands for the connection (``SUBSCRIBE``, ``UNSUBSCRIBE``, ``PING``) wait in a bounded outbox
for its writer: when it is full, Redis has stopped reading; ``listen`` and ``unlisten`` then
fail at once (``outbox_full`` counts them) and the connection is given up.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

from chatactors.cluster.redis.connection import NOTHING_BUFFERED, RedisConnection, pack
from chatactors.cluster.redis.errors import (
    TRANSPORT_ERRORS,
    RedisReplyError,
    RedisUnavailable,
    single_errors,
)
from chatactors.cluster.redis.link import RedisLink
from chatactors.cluster.redis.publisher import PUBLISH_QUEUE_SIZE, Publisher

log = logging.getLogger(__name__)

Handler = Callable[[bytes], None]

#: After Redis comes back, a node is subscribed again within about this long.
RESUBSCRIBE_MAX_DELAY_S = 1.0
_RESUBSCRIBE_FIRST_DELAY_S = 0.05
#: Commands waiting for the Pub/Sub connection's writer, at most.
OUTBOX_SIZE = 1024


class _OutboxFull(Exception):
    """Redis stopped reading the Pub/Sub connection: it is given up."""


@attrs.frozen
class ChannelsStatistics:
    #: Channels listened to now, and whether all of them are subscribed (``listening``).
    channels: int
    listening: bool
    #: Messages dispatched to their channel's handler.
    dispatched: int
    #: Messages that arrived for a channel nobody here listens to any more.
    unclaimed: int
    #: Messages whose handler raised (a bug, or garbage published on a node's channel).
    rejected: int
    #: Times the Pub/Sub connection was opened again after breaking.
    reconnects: int
    #: Commands refused because the outbox was full (the connection was then given up).
    outbox_full: int


@attrs.define(eq=False)
class Channels:
    _link: RedisLink
    publisher: Publisher
    #: Commands waiting for the Pub/Sub connection's writer, at most.
    outbox_size: int = OUTBOX_SIZE
    _handlers: dict[bytes, Handler] = attrs.field(factory=dict)
    #: Calls waiting for Redis to confirm a (un)subscription, by kind and channel.
    _confirming: dict[tuple[bytes, bytes], list[trio.Event]] = attrs.field(factory=dict)
    #: Commands for the current connection's writer; None while disconnected.
    _outbox: trio.MemorySendChannel[bytes] | None = None
    _dispatched: int = 0
    _unclaimed: int = 0
    _rejected: int = 0
    _reconnects: int = 0
    _outbox_full: int = 0
    #: Channels the current connection subscribed to and Redis has not confirmed yet.
    _resubscribing: set[bytes] = attrs.field(factory=set)
    #: Set to give the current connection up (its outbox overflowed).
    _give_up: trio.Event = attrs.field(factory=trio.Event)

    def statistics(self) -> ChannelsStatistics:
        return ChannelsStatistics(
            channels=len(self._handlers),
            listening=self.listening,
            dispatched=self._dispatched,
            unclaimed=self._unclaimed,
            rejected=self._rejected,
            reconnects=self._reconnects,
            outbox_full=self._outbox_full,
        )

    @property
    def listening(self) -> bool:
        """Whether every channel listened to is subscribed now (False while the connection is
        down or subscribing again: messages for this node are then lost, answers included)."""
        return self._outbox is not None and not self._resubscribing

    async def listen(self, channel: str, handler: Handler) -> None:
        """Dispatch the channel's messages to ``handler`` once Redis confirms the
        subscription; the link's ``unavailable`` if it does not in time (nothing is subscribed)."""
        key = channel.encode()
        self._handlers[key] = handler
        try:
            # While disconnected, the next connection subscribes to every handler's channel.
            await self._confirmed(b"subscribe", key)
        except BaseException:
            self._handlers.pop(key, None)
            raise

    async def unlisten(self, channel: str) -> None:
        """Stop dispatching at once, and unsubscribe in Redis: the link's ``unavailable`` if Redis
        does not confirm in time (then only ignored messages arrive until the connection
        breaks; while it is down there is nothing to undo)."""
        key = channel.encode()
        self._handlers.pop(key, None)
        if self._outbox is not None:
            await self._confirmed(b"unsubscribe", key)

    async def _confirmed(self, kind: bytes, key: bytes) -> None:
        if self._outbox is None and self._link.down:
            raise self._link.unavailable()  # no waiting for a connection that is not coming
        confirmed = trio.Event()
        waiting = self._confirming.setdefault((kind, key), [])
        waiting.append(confirmed)
        try:
            self._send(kind.upper(), key)
            with trio.fail_after(self._link.timeout_s):
                await confirmed.wait()
        except (trio.TooSlowError, _OutboxFull):
            raise self._link.unavailable() from None
        finally:
            if confirmed in waiting:
                waiting.remove(confirmed)
            # (The list may already be out of the map, answered, and a newer one in its place.)
            if not waiting and self._confirming.get((kind, key)) is waiting:
                del self._confirming[(kind, key)]

    async def publish(self, channel: str, data: bytes) -> int:
        """Send to every node listening; returns how many did (0: nobody listens)."""
        return await self.publisher.publish(channel, data)

    async def publish_all(self, messages: Sequence[tuple[str, bytes]]) -> list[int]:
        """Publish in order, together (see ``Publisher.publish_all``)."""
        return await self.publisher.publish_all(messages)

    async def publish_all_quietly(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Publish in order, together, without counting listeners (see ``Publisher``)."""
        await self.publisher.publish_all_quietly(messages)

    def _send(self, *command: str | bytes) -> None:
        """Queue a command for the connection's writer (none while disconnected: the next
        connection subscribes to every handler's channel); ``_OutboxFull`` if it overflows."""
        if self._outbox is None:
            return
        try:
            self._outbox.send_nowait(pack(*command))
        except trio.WouldBlock:
            self._outbox_full += 1
            self._give_up.set()
            raise _OutboxFull() from None

    async def run(self) -> None:
        """Keep one subscribed connection, for ever: connect, subscribe, dispatch, and after a
        failure connect again with backoff."""
        delay = _RESUBSCRIBE_FIRST_DELAY_S
        first = True
        while True:
            try:
                connection = await self._link.connect()
            except RedisUnavailable:  # (the link logs why, once per outage)
                await trio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, RESUBSCRIBE_MAX_DELAY_S)
                continue
            delay = _RESUBSCRIBE_FIRST_DELAY_S
            if not first:
                self._reconnects += 1
                log.info("Pub/Sub connection to Redis open again")
            first = False
            try:
                await self._serve(connection)
            except Exception as error:
                # The connection is given up, whatever ended it; a bug is logged whole.
                if _redis_failure(error):
                    log.warning("Pub/Sub connection to Redis lost (%r); connecting again", error)
                else:
                    log.exception("Pub/Sub connection failed; connecting again")
            finally:
                self._outbox = None
                self._resubscribing.clear()
                with trio.CancelScope(shield=True):
                    await connection.aclose()
            await trio.sleep(delay * random.uniform(0.5, 1.0))

    async def _serve(self, connection: RedisConnection) -> None:
        """Dispatch until the connection fails or its outbox overflows (then raises)."""
        outbox, commands = trio.open_memory_channel[bytes](self.outbox_size)
        self._give_up = trio.Event()
        if self._handlers:
            self._resubscribing = set(self._handlers)
            outbox.send_nowait(pack("SUBSCRIBE", *self._handlers))
        self._outbox = outbox
        with single_errors():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._write, connection, commands)
                nursery.start_soon(self._read, connection)
                await self._give_up.wait()
                raise _OutboxFull()

    @staticmethod
    async def _write(
        connection: RedisConnection, commands: trio.MemoryReceiveChannel[bytes]
    ) -> None:
        async for command in commands:
            await connection.send(command)

    async def _read(self, connection: RedisConnection) -> None:
        """Dispatch what arrives; a connection silent for ``timeout_s`` is asked for a PING,
        and one that does not answer it in ``timeout_s`` either is given up."""
        timeout_s = self._link.timeout_s
        while True:
            # One cancel scope for as long as messages keep coming, its deadline moved at each
            # read (a scope per read costs more than the read at a light rate), and what one
            # read brought dispatched in one go.
            with trio.CancelScope() as idle:
                while True:
                    while (reply := connection.receive_buffered()) is not NOTHING_BUFFERED:
                        self._dispatch(reply)
                    idle.deadline = trio.current_time() + timeout_s
                    self._dispatch(await connection.receive())
            self._send("PING")
            with trio.fail_after(timeout_s):
                reply = await connection.receive()
            self._dispatch(reply)

    def _dispatch(self, reply: Any) -> None:
        if isinstance(reply, RedisReplyError):  # a (un)subscription refused: NOAUTH, say
            log.error("Pub/Sub: Redis refused a command: %s", reply)
            return
        if not isinstance(reply, list) or len(reply) < 2:
            return
        kind = reply[0]
        if kind == b"message" and len(reply) == 3:
            handler = self._handlers.get(reply[1])
            data = reply[2]
            if handler is None or not isinstance(data, bytes):
                self._unclaimed += 1
                return
            self._dispatched += 1
            try:
                handler(data)
            except Exception:
                # Anyone with access to Redis can publish anything on these channels: a message
                # a handler chokes on is dropped, never the connection (and every channel).
                self._rejected += 1
                log.exception("Pub/Sub message on %r rejected by its handler", reply[1])
        elif kind in (b"subscribe", b"unsubscribe"):
            if kind == b"subscribe":
                self._resubscribing.discard(reply[1])
            for confirmed in self._confirming.pop((kind, reply[1]), []):
                confirmed.set()


def _redis_failure(error: BaseException) -> bool:
    """Whether ``error`` (or every error of its group) is Redis failing, not a bug here."""
    if isinstance(error, BaseExceptionGroup):
        return all(_redis_failure(each) for each in error.exceptions)
    return isinstance(error, (trio.TooSlowError, _OutboxFull, *TRANSPORT_ERRORS))


@asynccontextmanager
async def open_channels(
    link: RedisLink, *, publish_queue_size: int = PUBLISH_QUEUE_SIZE
) -> AsyncIterator[Channels]:
    """Raises the link's ``unavailable`` at once if Redis is unreachable when opening.
    ``publish_queue_size``: groups of PUBLISHes waiting for Redis at most (``Publisher``)."""
    await link.execute("PING")
    with single_errors():
        async with trio.open_nursery() as nursery:
            channels = Channels(link, Publisher.open(link, publish_queue_size))
            nursery.start_soon(channels.run)
            nursery.start_soon(channels.publisher.run)
            try:
                yield channels
            finally:
                nursery.cancel_scope.cancel()
