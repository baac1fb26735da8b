"""Subscription: the receiving end of a chat's events for one socket (or the bot).

The actor pushes each event, in an :class:`Envelope` shared by every subscriber, with
``send_nowait`` into the subscription's bounded outbox; it never waits for a subscriber. A
subscriber whose outbox is full has fallen behind and is ended with ``EndReason.LAGGED`` (it
can reconnect and resume by ``seq``), while every other subscriber keeps receiving.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Protocol

import attrs
import trio

from chatactors.actors.subscription_id import SubscriptionId
from chatactors.domain.events import ChatEvent, LogEvent
from chatactors.domain.ids import ChatId, UserId


class EndReason(enum.Enum):
    """Why a subscription ended; the web edge turns each into a close code (error_responses)."""

    #: The subscriber fell behind (or would miss events): it resumes by seq.
    LAGGED = "lagged"
    #: This server is stopping its actors to shut down.
    SHUTDOWN = "shutdown"
    #: The actor stopped because its claim on the chat is gone (cluster mode: the lease was
    #: lost): the chat is served by another activation, here or on another node.
    MOVED = "moved"
    #: The subscriber cannot carry on for now (a chat it must carry could not be subscribed:
    #: a dependency down, overloaded); it reconnects later.
    UNAVAILABLE = "unavailable"
    #: The actor crashed: a bug.
    CRASHED = "crashed"
    UNSUBSCRIBED = "unsubscribed"
    #: The subscriber's user was removed from the chat (or left it): access ends (4403).
    REMOVED = "removed"
    #: The chat's actor ended to load its state afresh from the store (a write of unknown
    #: outcome): reconnect and resume by seq.
    RELOADED = "reloaded"


@attrs.define(eq=False)
class Envelope:
    """One published event as every subscriber receives it (the same object for all of them).

    ``frame`` (and ``v1_frame``) are slots for the event's encoded wire frame: the edge that
    sends it fills them on first use, so an event is encoded once however many sockets it goes
    to.
    """

    event: ChatEvent
    frame: str | None = None
    #: The same for ``chatactors.v1`` sockets (which also get the event's log position).
    v1_frame: str | None = None


class Outbox(Protocol):
    """Where the actor puts a subscriber's events: its own channel, or a share of a user's."""

    def send_nowait(self, value: Envelope, /) -> None: ...

    def close(self) -> None: ...


@attrs.frozen
class ChatEnvelope:
    """One chat's event on an outbox that several chats share (a user's socket)."""

    chat_id: ChatId
    envelope: Envelope


@attrs.frozen
class SharedOutbox:
    """One chat's way into an outbox shared by several subscriptions (see ``Subscription``).

    The subscriber owns the shared channel; ending one subscription only stops its sends, and
    once the subscriber closes the channel every chat's next send ends its subscription.
    """

    chat_id: ChatId
    _send: Callable[[ChatEnvelope], None]

    def send_nowait(self, value: Envelope, /) -> None:
        self._send(ChatEnvelope(self.chat_id, value))

    def close(self) -> None:
        pass


@attrs.define(eq=False)
class Subscription:
    """Handed to the subscriber by the actor; the actor alone sends into it and ends it."""

    user_id: UserId | None
    #: What to deliver before the live events: the messages after the requested
    #: ``after_seq``, or the log entries after the requested ``after_pos``.
    replay: tuple[LogEvent, ...]
    #: True when the requested history was too long to replay: the client must refetch.
    resync_required: bool
    latest_seq: int
    _send: Outbox
    #: None when the events go to a shared outbox (the subscriber reads that instead).
    _receive: trio.MemoryReceiveChannel[Envelope] | None
    #: Unique within its chat's actor (or, for a bus subscriber, its node's bus).
    id: SubscriptionId
    #: The chat's log position when it subscribed: live events come after it.
    latest_pos: int = 0
    end_reason: EndReason | None = None
    _on_end: Callable[[EndReason], None] | None = None

    @classmethod
    def open(
        cls,
        *,
        id: SubscriptionId,
        user_id: UserId | None,
        replay: tuple[LogEvent, ...],
        resync_required: bool,
        latest_seq: int,
        queue_size: int,
        outbox: SharedOutbox | None = None,
        latest_pos: int = 0,
    ) -> Subscription:
        """With ``outbox``, events go there (tagged with the chat) instead of a channel of its
        own: a user's socket reads all its chats from one bounded channel."""
        if outbox is not None:
            return cls(user_id, replay, resync_required, latest_seq, outbox, None, id, latest_pos)
        send, receive = trio.open_memory_channel[Envelope](queue_size)
        return cls(user_id, replay, resync_required, latest_seq, send, receive, id, latest_pos)

    # -- the subscriber's side -------------------------------------------------------------

    @property
    def events(self) -> trio.MemoryReceiveChannel[Envelope]:
        """Where its events arrive (``receive`` raises ``trio.EndOfChannel`` once ended and
        drained). The channel itself, not a wrapper: each idle socket waits in it."""
        assert self._receive is not None, "a shared outbox is read by its owner"
        return self._receive

    async def receive(self) -> Envelope:
        """The next event. Raises ``trio.EndOfChannel`` once ended and drained."""
        return await self.events.receive()

    def receive_nowait(self) -> Envelope:
        return self.events.receive_nowait()

    def call_when_ended(self, callback: Callable[[EndReason], None]) -> None:
        """Call ``callback(reason)`` (synchronously, in the actor's task) when this ends.

        A shared outbox has no end of its own to read, so its owner learns this way that one
        chat dropped it (lagging, crashed, shutting down); and a subscriber's task may be stuck
        sending to a peer that reads nothing, which this frees without a task per subscriber
        waiting for the end.
        """
        self._on_end = callback
        if self.end_reason is not None:
            callback(self.end_reason)

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
            if self._on_end is not None:
                self._on_end(reason)


@attrs.frozen
class FanoutStatistics:
    """A snapshot of :meth:`Fanout.statistics`: totals since the fanout was made."""

    #: Events offered to subscribers (an event offered to three subscribers counts three).
    offered: int
    #: Subscribers dropped for falling behind.
    lagged: int


@attrs.define(eq=False)
class Fanout:
    """A chat's subscribers. Publishing costs one non-blocking send per subscriber."""

    _subscriptions: dict[SubscriptionId, Subscription] = attrs.field(factory=dict)
    #: Subscriptions that do not keep the chat alive (the bot's).
    _passive: set[SubscriptionId] = attrs.field(factory=set)
    _offered: int = 0
    _lagged: int = 0

    def add(self, subscription: Subscription, *, passive: bool = False) -> None:
        self._subscriptions[subscription.id] = subscription
        if passive:
            self._passive.add(subscription.id)

    @property
    def active_count(self) -> int:
        """Subscribers that keep the chat alive."""
        return len(self._subscriptions) - len(self._passive)

    def remove(self, subscription_id: SubscriptionId) -> Subscription | None:
        self._passive.discard(subscription_id)
        subscription = self._subscriptions.pop(subscription_id, None)
        if subscription is not None:
            subscription.end(EndReason.UNSUBSCRIBED)
        return subscription

    def end(self, subscription_id: SubscriptionId, reason: EndReason) -> None:
        """End one subscriber for ``reason`` (a member removed from the chat)."""
        self._passive.discard(subscription_id)
        subscription = self._subscriptions.pop(subscription_id, None)
        if subscription is not None:
            subscription.end(reason)

    def publish(self, event: ChatEvent) -> None:
        envelope = Envelope(event)
        self._offered += len(self._subscriptions)
        dropped = [s.id for s in self._subscriptions.values() if not s.offer(envelope)]
        for subscription_id in dropped:
            self._passive.discard(subscription_id)
            if self._subscriptions.pop(subscription_id).end_reason is EndReason.LAGGED:
                self._lagged += 1

    def statistics(self) -> FanoutStatistics:
        return FanoutStatistics(offered=self._offered, lagged=self._lagged)

    def end_all(self, reason: EndReason) -> None:
        for subscription in self._subscriptions.values():
            subscription.end(reason)
        self._subscriptions.clear()
        self._passive.clear()

    def __len__(self) -> int:
        return len(self._subscriptions)
