"""EventOutbox: a chat owner's events on their way to the chat's channel, for the other nodes.

The owner's actor hands over each event as it publishes it to its own sockets (``put``: never
blocks, in the actor's task). The outbox publishes them on the chat's channel in order, one
batch at a time, straight into the node's ``Publisher`` (no task of its own: a batch is queued
from the actor's task, or from the publisher's when the one before it went out), each tagged
with the activation's node and lease token (``codec.encode_bus_event``). The presence the
batch changes is recorded in the same pipeline (``presence_snapshot.py``), before the events.

Only while the lease is valid: a batch due once it no longer is, is withheld (counted), so a
paused owner that lost its chat never publishes a stale event. A batch Redis did not take is
sent again (in order: nothing after it goes first) every ``retry_interval_s`` while the lease
is valid. When more than ``limit`` events wait (Redis far behind), the owner gives the chat up
(``on_overflow``) rather than let other nodes' sockets miss events silently.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from functools import partial

import attrs
import trio

from chatactors.cluster import codec
from chatactors.cluster.bus import chat_channel
from chatactors.cluster.directory import Holder
from chatactors.cluster.presence_snapshot import PresenceSnapshot
from chatactors.cluster.redis import MAX_BATCH, Arg, Publisher, RedisUnavailable
from chatactors.domain.events import ChatEvent
from chatactors.domain.ids import ChatId


class OutboxState(enum.Enum):
    #: Nothing on its way: the next event goes out at once.
    IDLE = "idle"
    #: A batch is queued or being written: events wait for it.
    SENDING = "sending"
    #: Redis did not take the last batch: events wait for the retry.
    RETRYING = "retrying"


@attrs.define
class OutboxCounters:
    #: Events published, and events not published because the lease was no longer valid.
    published: int = 0
    withheld: int = 0


@attrs.define(eq=False)
class EventOutbox:
    chat_id: ChatId
    #: Who publishes: this node, under this lease (learned by the listening nodes).
    _holder: Holder
    _publisher: Publisher
    #: Whether the lease is still valid (this node may act as the chat's owner).
    _is_valid: Callable[[], bool]
    _retry_interval_s: float
    #: Events waiting at most before the owner gives the chat up.
    _limit: int
    _on_overflow: Callable[[], None]
    _counters: OutboxCounters
    _snapshot: PresenceSnapshot | None = None
    _state: OutboxState = OutboxState.IDLE
    _waiting: list[ChatEvent] = attrs.field(factory=list)
    _closed: bool = False
    #: Set when a batch failed (the retry task sends it again); when nothing waits (``drain``).
    _retry_due: trio.Event = attrs.field(factory=trio.Event)
    _drained: trio.Event = attrs.field(factory=trio.Event)

    def put(self, event: ChatEvent) -> None:
        """Publish ``event`` after those put before it; never blocks."""
        if self._closed:
            self._counters.withheld += 1
            return
        if len(self._waiting) >= self._limit:
            self._on_overflow()
            return
        self._waiting.append(event)
        if self._state is OutboxState.IDLE:
            self._send()

    def close(self) -> None:
        """Take no more events (those waiting still go out)."""
        self._closed = True
        self._check_drained()

    async def drain(self) -> None:
        """Wait until every event put was published or withheld."""
        self._check_drained()
        await self._drained.wait()

    async def retry(self) -> None:
        """Send failed batches again, every ``retry_interval_s``; runs beside the actor."""
        while True:
            await self._retry_due.wait()
            self._retry_due = trio.Event()
            await trio.sleep(self._retry_interval_s)
            self._state = OutboxState.IDLE
            self._send()

    def _send(self) -> None:
        """Queue the next batch for the publisher (state IDLE, events waiting)."""
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            if not self._is_valid():
                self._counters.withheld += len(batch)
                continue
            commands: list[tuple[Arg, ...]] = []
            if self._snapshot is not None:
                commands += self._snapshot.commands(self.chat_id, batch)
            channel = chat_channel(self.chat_id)
            commands += [
                ("PUBLISH", channel, codec.encode_bus_event(event, self._holder)) for event in batch
            ]
            self._state = OutboxState.SENDING
            try:
                self._publisher.send_nowait(commands, partial(self._sent, batch))
            except RedisUnavailable as error:  # the publisher's queue is full
                self._sent(batch, error)
            return
        self._check_drained()

    def _sent(self, batch: list[ChatEvent], error: RedisUnavailable | None) -> None:
        if error is None:
            self._counters.published += len(batch)
            self._state = OutboxState.IDLE
            self._send()
        else:
            self._waiting[:0] = batch
            self._state = OutboxState.RETRYING
            self._retry_due.set()

    def _check_drained(self) -> None:
        if self._closed and not self._waiting and self._state is OutboxState.IDLE:
            self._drained.set()
