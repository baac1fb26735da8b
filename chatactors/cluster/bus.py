"""ChatBus: chat events between nodes (Centrifugo's Redis engine, in small).

The chat's owner publishes each event once, encoded once, on the chat's channel. A node with
local subscribers to that chat listens to the channel (one Redis subscription per chat per
node, however many sockets), decodes each event once, and offers it to every local subscriber
in one ``Envelope`` for all (so the web edge encodes its frame once per node), each offered with
``send_nowait``: bounded, never blocking; a subscriber that falls behind is dropped
(``EndReason.LAGGED``) and resumes. Messages and changes to them are the chat's log, each at
its position (``pos``): a subscriber that would miss one (a gap in ``pos``) gets the missing
entries from the store first, or is dropped and resumes.

A log entry that removes members from the chat (``removed_by``) is the last thing their
subscribers get: each is ended (``EndReason.REMOVED``) right after it, so on every node
access ends at the same point of the log, also when the entry came through a gap's filling.

The channel also carries the owners' announcements (``codec.OwnerAnnounced``, one per
activation): never offered to subscribers, they go to ``on_owner`` (the ``ClusterMailbox``,
which re-registers this node's subscribers at the new owner).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Protocol

import attrs
import trio

from chatactors.actors.subscription import EndReason, Envelope, SharedOutbox, Subscription
from chatactors.cluster import codec
from chatactors.cluster.errors import ClusterUnavailable
from chatactors.cluster.redis import Channels
from chatactors.domain.clock import utc_now
from chatactors.domain.errors import ChatError
from chatactors.domain.events import (
    ChatEvent,
    LogEvent,
    MessageReceived,
    log_position,
    removed_by,
)
from chatactors.domain.ids import ChatId, UserId
from chatactors.storage.store import LogPage

log = logging.getLogger(__name__)


BUS_IDS_START = 1 << 40


def chat_channel(chat_id: ChatId) -> str:
    return f"chatactors:chat:{chat_id}"


@attrs.define(eq=False)
class _Member:
    """A local subscriber. Until the owner registered it (``start``), its events wait in
    ``pending``; from then on ``floor`` is the last log position it has (replayed or
    received)."""

    subscription: Subscription
    chat_id: ChatId
    floor: int | None = None
    pending: list[ChatEvent] = attrs.field(factory=list)
    #: Reading the entries of a gap from the store; events wait in ``pending`` meanwhile.
    filling: bool = False


@attrs.define(eq=False)
class _Listening:
    """A chat this node listens to; ``ready`` once Redis confirmed the subscription."""

    members: dict[int, _Member] = attrs.field(factory=dict)
    ready: trio.Event = attrs.field(factory=trio.Event)
    failed: bool = False


class History(Protocol):
    """Where a gap's log entries are read from (the store: ``ChatStore`` is one)."""

    async def read_log(self, chat_id: ChatId, page: LogPage) -> list[LogEvent]: ...


@attrs.define(eq=False)
class ChatBus:
    _channels: Channels
    #: Frames a subscriber may have queued before it counts as lagging (``ws_queue_size``).
    queue_size: int
    #: With a history and a nursery, a gap is filled from the store; without, it ends the
    #: subscriber (which then resumes).
    history: History | None = None
    nursery: trio.Nursery | None = None
    _chats: dict[ChatId, _Listening] = attrs.field(factory=dict)
    published: int = 0
    received: int = 0
    undecodable: int = 0
    #: Subscribers ended for falling behind or for a gap in the positions they received.
    lagged: int = 0
    gaps: int = 0
    #: Log entries read from the store to fill gaps.
    filled: int = 0
    #: Sum and count of (receive time - event time) for received messages, for /metrics.
    lag_s_sum: float = 0.0
    lag_count: int = 0
    #: Bus subscription ids start above any id an actor gives its own subscribers (below
    #: 2**32), so that a socket's ``Unsubscribe`` names either kind unambiguously.
    _ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(BUS_IDS_START))
    #: Told of every owner announcement on a chat this node listens to (never blocks).
    on_owner: Callable[[ChatId, codec.OwnerAnnounced], None] | None = None
    announcements: int = 0

    async def announce(self, chat_id: ChatId, announcement: codec.OwnerAnnounced) -> int:
        """Tell the nodes listening to the chat who owns it now; ``ClusterUnavailable`` if
        Redis is unreachable."""
        data = codec.encode_announcement(announcement)
        return await self._channels.publish(chat_channel(chat_id), data)

    async def publish(self, chat_id: ChatId, event: ChatEvent) -> int:
        """Publish once for every node; returns how many nodes listen. ``ClusterUnavailable``
        if Redis is unreachable (the event is then not delivered to other nodes)."""
        return (await self.publish_all(chat_id, [event]))[0]

    async def publish_all(self, chat_id: ChatId, events: Sequence[ChatEvent]) -> list[int]:
        """Publish the chat's ``events`` in order, in one round trip (how many nodes got
        each); ``ClusterUnavailable`` as :meth:`publish`, for all of them."""
        channel = chat_channel(chat_id)
        nodes = await self._channels.publish_all(
            [(channel, codec.encode_event(event)) for event in events]
        )
        self.published += len(events)
        return nodes

    async def publish_all_quietly(self, chat_id: ChatId, events: Sequence[ChatEvent]) -> None:
        """As :meth:`publish_all`, without counting the nodes (the owner's path: no reply
        from Redis to wait for)."""
        channel = chat_channel(chat_id)
        await self._channels.publish_all_quietly(
            [(channel, codec.encode_event(event)) for event in events]
        )
        self.published += len(events)

    async def subscribe(
        self, chat_id: ChatId, user_id: UserId | None = None, outbox: SharedOutbox | None = None
    ) -> Subscription:
        """A live stream of the chat's events, published from any node, from now on.

        Events wait until :meth:`start` says which position the subscriber already has. With
        ``outbox``, into a user socket's outbox shared by its chats (as on the owner). Raises
        ``ClusterUnavailable`` if Redis is unreachable. Always pair with ``unsubscribe``.
        """
        listening = self._chats.get(chat_id)
        if listening is None:
            listening = self._chats[chat_id] = _Listening()
            try:
                await self._channels.listen(chat_channel(chat_id), partial(self._deliver, chat_id))
            except BaseException:
                listening.failed = True
                del self._chats[chat_id]
                raise
            finally:
                listening.ready.set()
        else:
            await listening.ready.wait()
            if listening.failed:
                return await self.subscribe(chat_id, user_id, outbox)
        subscription = Subscription.open(
            id=next(self._ids), user_id=user_id, replay=(), resync_required=False, latest_seq=0,
            queue_size=self.queue_size, outbox=outbox,
        )  # fmt: skip
        listening.members[subscription.id] = _Member(subscription, chat_id)
        return subscription

    def start(self, chat_id: ChatId, subscription: Subscription, through_pos: int) -> None:
        """The subscriber has every log entry up to ``through_pos`` (its replay covers them):
        deliver what waited, and from now on skip older entries and fill gaps."""
        listening = self._chats.get(chat_id)
        member = None if listening is None else listening.members.get(subscription.id)
        if listening is None or member is None:
            return
        member.floor = through_pos
        self._flush(listening, member)

    def _flush(self, listening: _Listening, member: _Member) -> None:
        """Offer what waited, in order, until done or a new gap starts a fill."""
        while member.pending and not member.filling:
            self._offer(listening, member, Envelope(member.pending.pop(0)))

    async def unsubscribe(self, chat_id: ChatId, subscription: Subscription) -> None:
        """End the subscription; the last one on this node stops listening to the chat."""
        subscription.end(EndReason.UNSUBSCRIBED)
        listening = self._chats.get(chat_id)
        if listening is None:
            return
        listening.members.pop(subscription.id, None)
        if not listening.members and listening.ready.is_set():
            del self._chats[chat_id]
            # Unreachable Redis only costs ignored messages until it drops the connection.
            with contextlib.suppress(ClusterUnavailable):
                await self._channels.unlisten(chat_channel(chat_id))

    def floor(self, chat_id: ChatId, subscription: Subscription) -> int | None:
        """The last log position the subscriber has (None: not started, or no longer here)."""
        listening = self._chats.get(chat_id)
        member = None if listening is None else listening.members.get(subscription.id)
        return None if member is None else member.floor

    def subscribers(self, chat_id: ChatId) -> int:
        listening = self._chats.get(chat_id)
        return 0 if listening is None else len(listening.members)

    def lagged_total(self) -> int:
        """Subscribers dropped for falling behind (or missing events), since start."""
        return self.lagged

    def _deliver(self, chat_id: ChatId, data: bytes) -> None:
        listening = self._chats.get(chat_id)
        if listening is None:
            return
        try:
            event = codec.decode_bus_message(data)
        except codec.UndecodableMessage:
            self.undecodable += 1
            log.warning("chat %s: undecodable event on the bus", chat_id)
            return
        if isinstance(event, codec.OwnerAnnounced):
            self.announcements += 1
            if self.on_owner is not None:
                self.on_owner(chat_id, event)
            return
        self.received += 1
        if isinstance(event, MessageReceived):
            lag = (utc_now() - event.message.timestamp).total_seconds()
            self.lag_s_sum += max(0.0, lag)
            self.lag_count += 1
        envelope = Envelope(event)
        for member in list(listening.members.values()):
            if member.floor is None or member.filling:
                if len(member.pending) >= self.queue_size:
                    self._drop(listening, member, EndReason.LAGGED)
                else:
                    member.pending.append(event)
                continue
            self._offer(listening, member, envelope)

    def _offer(self, listening: _Listening, member: _Member, envelope: Envelope) -> None:
        event = envelope.event
        pos = log_position(event)
        if pos is not None:
            assert member.floor is not None
            if pos <= member.floor:
                return  # replayed already
            if pos > member.floor + 1:
                # Published while this node was cut off from Redis, or stored by an owner that
                # died (or lost its lease) before publishing: read the missing entries from the
                # store (every position below a published one is committed), or resume.
                self.gaps += 1
                missing = pos - member.floor - 1
                if self.history is None or self.nursery is None or missing > self.queue_size:
                    self._drop(listening, member, EndReason.LAGGED)
                    return
                member.pending.insert(0, event)
                member.filling = True
                self.nursery.start_soon(self._fill, listening, member, member.floor, missing)
                return
            member.floor = pos
        if not member.subscription.offer(envelope):
            self._drop(listening, member, member.subscription.end_reason)
        elif member.subscription.user_id in removed_by(event):
            self._drop(listening, member, EndReason.REMOVED)

    async def _fill(self, listening: _Listening, member: _Member, floor: int, missing: int) -> None:
        assert self.history is not None
        try:
            entries = await self.history.read_log(member.chat_id, LogPage(floor, missing))
        except ChatError:
            entries = []
        if listening.members.get(member.subscription.id) is not member:
            return  # unsubscribed meanwhile
        member.filling = False
        for entry in entries:
            self.filled += 1
            self._offer(listening, member, Envelope(entry))
        if member.floor != floor + missing:
            self._drop(listening, member, EndReason.LAGGED)  # the store could not fill it
            return
        self._flush(listening, member)

    def _drop(self, listening: _Listening, member: _Member, reason: EndReason | None) -> None:
        member.subscription.end(reason or EndReason.LAGGED)
        listening.members.pop(member.subscription.id, None)
        if member.subscription.end_reason is EndReason.LAGGED:
            self.lagged += 1
