"""Subscription: the receiving end of a chat's events for one socket (or the bot).

The actor pushes each event, in an :class:`Envelope` shared by every subscriber, with
``send_nowait`` into the subscription's bounded outbox; it never waits for a subscriber. A
subscriber whose outbox is full has fallen behind and is ended with ``EndReason.LAGGED`` (it
can reconnect and resume by ``seq``), while every other subscriber keeps receiving.
"""

from __future__ import annotations

import enum

import attrs
import trio

from chatactors.domain.events import ChatEvent
from chatactors.domain.ids import UserId
from chatactors.domain.models import Message


class EndReason(enum.Enum):
    LAGGED = "lagged"
    SHUTDOWN = "shutdown"
    CRASHED = "crashed"
    UNSUBSCRIBED = "unsubscribed"


@attrs.define(eq=False)
class Envelope:
    """One published event as every subscriber receives it (the same object for all of them).

    ``frame`` is a slot for the event's encoded wire frame: the edge that sends it fills it on
    first use, so an event is encoded once however many sockets it goes to.
    """

    event: ChatEvent
    frame: str | None = None


@attrs.define(eq=False)
class Subscription:
    """Handed to the subscriber by the actor; the actor alone sends into it and ends it."""

    user_id: UserId | None
    #: Messages after the requested ``after_seq``, to deliver before the live events.
    replay: tuple[Message, ...]
    #: True when the requested history was too long to replay: the client must refetch.
    resync_required: bool
    latest_seq: int
    _send: trio.MemorySendChannel[Envelope]
    _receive: trio.MemoryReceiveChannel[Envelope]
    #: Unique within its chat's actor.
    id: int
    end_reason: EndReason | None = None
    _lag_scope: trio.CancelScope | None = None

    @classmethod
    def open(
        cls,
        *,
        id: int,
        user_id: UserId | None,
        replay: tuple[Message, ...],
        resync_required: bool,
        latest_seq: int,
        queue_size: int,
    ) -> Subscription:
        send, receive = trio.open_memory_channel[Envelope](queue_size)
        return cls(user_id, replay, resync_required, latest_seq, send, receive, id)

    # -- the subscriber's side -------------------------------------------------------------

    async def receive(self) -> Envelope:
        """The next event. Raises ``trio.EndOfChannel`` once ended and drained."""
        return await self._receive.receive()

    def receive_nowait(self) -> Envelope:
        return self._receive.receive_nowait()

    def cancel_when_lagging(self, scope: trio.CancelScope) -> None:
        """Cancel ``scope`` if the actor drops this subscriber for falling behind.

        The subscriber's task may be stuck sending to a peer that reads nothing; this frees it
        without a task per subscriber waiting for the end.
        """
        self._lag_scope = scope
        if self.end_reason is EndReason.LAGGED:
            scope.cancel()

    # -- the actor's side --------------------------------------------------------------------

    def offer(self, envelope: Envelope) -> bool:
        """Queue an event without waiting; False if the subscriber is gone or fell behind."""
        try:
            self._send.send_nowait(envelope)
        except trio.WouldBlock:
            self.end(EndReason.LAGGED)
            return False
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self.end(EndReason.UNSUBSCRIBED)
            return False
        return True

    def end(self, reason: EndReason) -> None:
        if self.end_reason is None:
            self.end_reason = reason
            self._send.close()
            if reason is EndReason.LAGGED and self._lag_scope is not None:
                self._lag_scope.cancel()


@attrs.define(eq=False)
class Fanout:
    """A chat's subscribers. Publishing costs one non-blocking send per subscriber."""

    _subscriptions: dict[int, Subscription] = attrs.field(factory=dict)
    #: Subscriptions that do not keep the chat alive (the bot's).
    _passive: set[int] = attrs.field(factory=set)
    lagged_total: int = 0

    def add(self, subscription: Subscription, *, passive: bool = False) -> None:
        self._subscriptions[subscription.id] = subscription
        if passive:
            self._passive.add(subscription.id)

    @property
    def active_count(self) -> int:
        """Subscribers that keep the chat alive."""
        return len(self._subscriptions) - len(self._passive)

    def remove(self, subscription_id: int) -> Subscription | None:
        self._passive.discard(subscription_id)
        subscription = self._subscriptions.pop(subscription_id, None)
        if subscription is not None:
            subscription.end(EndReason.UNSUBSCRIBED)
        return subscription

    def publish(self, event: ChatEvent) -> None:
        envelope = Envelope(event)
        dropped = [s.id for s in self._subscriptions.values() if not s.offer(envelope)]
        for subscription_id in dropped:
            self._passive.discard(subscription_id)
            if self._subscriptions.pop(subscription_id).end_reason is EndReason.LAGGED:
                self.lagged_total += 1

    def end_all(self, reason: EndReason) -> None:
        for subscription in self._subscriptions.values():
            subscription.end(reason)
        self._subscriptions.clear()
        self._passive.clear()

    def __len__(self) -> int:
        return len(self._subscriptions)
