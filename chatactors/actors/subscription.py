"""Subscription: the receiving end of a chat's events for one socket (or the bot).

The actor pushes each encoded event with ``send_nowait`` into the subscription's bounded
outbox; it never waits for a subscriber. A subscriber whose outbox is full has fallen behind
and is ended with ``EndReason.LAGGED`` (it can reconnect and resume by ``seq``), while every
other subscriber keeps receiving.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable
from typing import Protocol

import attrs
import trio

from chatactors.domain.ids import ChatId, UserId
from chatactors.domain.models import Message

_ids = itertools.count(1)


class EndReason(enum.Enum):
    LAGGED = "lagged"
    SHUTDOWN = "shutdown"
    CRASHED = "crashed"
    UNSUBSCRIBED = "unsubscribed"


class Outbox(Protocol):
    """Where the actor puts a subscriber's frames: its own channel, or a share of a user's."""

    def send_nowait(self, value: str, /) -> None: ...

    def close(self) -> None: ...


@attrs.frozen
class ChatFrame:
    """One chat's event on an outbox that several chats share (a user's socket)."""

    chat_id: ChatId
    frame: str


@attrs.frozen
class SharedOutbox:
    """One chat's way into an outbox shared by several subscriptions (see ``Subscription``).

    The subscriber owns the shared channel; ending one subscription only stops its sends, and
    once the subscriber closes the channel every chat's next send ends its subscription.
    """

    chat_id: ChatId
    _send: Callable[[ChatFrame], None]

    def send_nowait(self, value: str, /) -> None:
        self._send(ChatFrame(self.chat_id, value))

    def close(self) -> None:
        pass


@attrs.define(eq=False)
class Subscription:
    """Handed to the subscriber by the actor; the actor alone sends into it and ends it."""

    user_id: UserId | None
    #: Messages after the requested ``after_seq``, to deliver before the live events.
    replay: tuple[Message, ...]
    #: True when the requested history was too long to replay: the client must refetch.
    resync_required: bool
    latest_seq: int
    _send: Outbox
    #: None when the frames go to a shared outbox (the subscriber reads that instead).
    _receive: trio.MemoryReceiveChannel[str] | None
    id: int = attrs.field(factory=lambda: next(_ids))
    end_reason: EndReason | None = None
    _lag_scope: trio.CancelScope | None = None
    _on_end: Callable[[EndReason], None] | None = None

    @classmethod
    def open(
        cls,
        *,
        user_id: UserId | None,
        replay: tuple[Message, ...],
        resync_required: bool,
        latest_seq: int,
        queue_size: int,
        outbox: SharedOutbox | None = None,
    ) -> Subscription:
        """With ``outbox``, frames go there (tagged with the chat) instead of a channel of its
        own: a user's socket reads all its chats from one bounded channel."""
        if outbox is not None:
            return cls(user_id, replay, resync_required, latest_seq, outbox, None)
        send, receive = trio.open_memory_channel[str](queue_size)
        return cls(user_id, replay, resync_required, latest_seq, send, receive)

    # -- the subscriber's side -------------------------------------------------------------

    async def receive(self) -> str:
        """The next encoded event. Raises ``trio.EndOfChannel`` once ended and drained."""
        assert self._receive is not None, "a shared outbox is read by its owner"
        return await self._receive.receive()

    def receive_nowait(self) -> str:
        assert self._receive is not None, "a shared outbox is read by its owner"
        return self._receive.receive_nowait()

    def call_when_ended(self, callback: Callable[[EndReason], None]) -> None:
        """Call ``callback(reason)`` (synchronously, in the actor's task) when this ends.

        A shared outbox has no end of its own to read, so its owner learns this way that one
        chat dropped it (lagging, crashed, shutting down).
        """
        self._on_end = callback
        if self.end_reason is not None:
            callback(self.end_reason)

    def cancel_when_lagging(self, scope: trio.CancelScope) -> None:
        """Cancel ``scope`` if the actor drops this subscriber for falling behind.

        The subscriber's task may be stuck sending to a peer that reads nothing; this frees it
        without a task per subscriber waiting for the end.
        """
        self._lag_scope = scope
        if self.end_reason is EndReason.LAGGED:
            scope.cancel()

    # -- the actor's side --------------------------------------------------------------------

    def offer(self, frame: str) -> bool:
        """Queue a frame without waiting; False if the subscriber is gone or fell behind."""
        try:
            self._send.send_nowait(frame)
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
            if self._on_end is not None:
                self._on_end(reason)


@attrs.define(eq=False)
class Fanout:
    """A chat's subscribers. Publishing costs one non-blocking send per subscriber."""

    _subscriptions: dict[int, Subscription] = attrs.field(factory=dict)
    lagged_total: int = 0

    def add(self, subscription: Subscription) -> None:
        self._subscriptions[subscription.id] = subscription

    def remove(self, subscription_id: int) -> Subscription | None:
        subscription = self._subscriptions.pop(subscription_id, None)
        if subscription is not None:
            subscription.end(EndReason.UNSUBSCRIBED)
        return subscription

    def publish(self, frame: str) -> None:
        dropped = [s.id for s in self._subscriptions.values() if not s.offer(frame)]
        for subscription_id in dropped:
            if self._subscriptions.pop(subscription_id).end_reason is EndReason.LAGGED:
                self.lagged_total += 1

    def end_all(self, reason: EndReason) -> None:
        for subscription in self._subscriptions.values():
            subscription.end(reason)
        self._subscriptions.clear()

    def __len__(self) -> int:
        return len(self._subscriptions)
