"""ChatBus: a node's ears on the chats other nodes own (Centrifugo's Redis engine, in small).

A chat's owner publishes each event once, on the chat's channel (``event_outbox.py``). A node
with local subscribers to that chat listens to the channel (one Redis subscription per chat per
node, however many sockets), decodes each event once, and offers it to every local subscriber
in one ``Envelope`` for all (so the web edge encodes its frame once per node), each offered with
``send_nowait``: bounded, never blocking; a subscriber that falls behind is dropped
(``EndReason.LAGGED``) and resumes. Messages and changes to them are the chat's log, each at
its position (``pos``): a subscriber that would miss one (a gap in ``pos``) gets the missing
entries from the store first, or is dropped and resumes.

Each subscriber (a ``_Member``) is in one of three states (``MemberState``): ``WAITING`` for the
owner to register it (its events wait, since only the registration's answer says which
position it already has), ``LIVE``, or ``FILLING`` a gap from the store (its events wait).

A log entry that removes members from the chat (``removed_by``) is the last thing their
subscribers get: each is ended (``EndReason.REMOVED``) right after it, so on every node
access ends at the same point of the log, also when the entry came through a gap's filling.

Every message on the channel names the activation that sent it (its node and lease token): the
holder cache learns from each (``holders.py``). The channel also carries the owners'
announcements (``codec.OwnerAnnounced``, one per activation): never offered to subscribers, they
go to the ``on_owner`` handler given when the chat was first subscribed
(``socket_registrations.py``, which registers this node's sockets at the new owner).
"""

from __future__ import annotations

import contextlib
import enum
import itertools
import logging
from collections.abc import Callable
from functools import partial
from typing import Protocol

import attrs
import trio

from chatactors.actors.subscription import EndReason, Envelope, SharedOutbox, Subscription
from chatactors.actors.subscription_id import SubscriptionId
from chatactors.cluster import codec
from chatactors.cluster.errors import ClusterUnavailable
from chatactors.cluster.holders import HolderCache
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

#: Told of an owner's announcement on a chat's channel (never blocks).
OnOwner = Callable[[ChatId, codec.OwnerAnnounced], None]


def chat_channel(chat_id: ChatId) -> str:
    return f"chatactors:chat:{chat_id}"


class MemberState(enum.Enum):
    #: Subscribed on the bus, not yet registered at the owner: its events wait in ``pending``.
    WAITING = "waiting"
    #: Each event is offered at once (or skipped, if its position is not above ``floor``).
    LIVE = "live"
    #: Reading a gap's entries from the store: its events wait in ``pending``.
    FILLING = "filling"


@attrs.define(eq=False)
class _Member:
    """A local subscriber; ``floor`` is the last log position it has (replayed or received)."""

    subscription: Subscription
    chat_id: ChatId
    state: MemberState = MemberState.WAITING
    floor: int = 0
    pending: list[ChatEvent] = attrs.field(factory=list)


@attrs.define(eq=False)
class _Listening:
    """A chat this node listens to; ``ready`` once Redis confirmed the subscription."""

    on_owner: OnOwner | None
    members: dict[SubscriptionId, _Member] = attrs.field(factory=dict)
    ready: trio.Event = attrs.field(factory=trio.Event)
    failed: bool = False


class History(Protocol):
    """Where a gap's log entries are read from (the store: ``ChatStore`` is one)."""

    async def read_log(self, chat_id: ChatId, page: LogPage) -> list[LogEvent]: ...


@attrs.frozen
class BusStatistics:
    #: Chats listened to now, and their local subscribers.
    chats: int
    subscribers: int
    #: Events received (each once per node), and bus messages that could not be decoded.
    received: int
    undecodable: int
    #: Owner announcements received.
    announcements: int
    #: Subscribers ended for falling behind or for a gap the store could not fill.
    lagged: int
    #: Gaps in log positions seen, and log entries read from the store to fill them.
    gaps: int
    filled: int
    #: Sum and count of (receive time - message time) of received messages, in seconds.
    lag_s_sum: float
    lag_count: int


@attrs.define(eq=False)
class ChatBus:
    _channels: Channels
    #: Frames a subscriber may have queued before it counts as lagging (``ws_queue_size``).
    queue_size: int
    #: With a history and a nursery, a gap is filled from the store; without, it ends the
    #: subscriber (which then resumes).
    _history: History | None = None
    _nursery: trio.Nursery | None = None
    #: Learns each chat's holder from the messages it sends (None: nothing is cached).
    _holders: HolderCache | None = None
    _chats: dict[ChatId, _Listening] = attrs.field(factory=dict)
    _ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1))
    _received: int = 0
    _undecodable: int = 0
    _announcements: int = 0
    _lagged: int = 0
    _gaps: int = 0
    _filled: int = 0
    _lag_s_sum: float = 0.0
    _lag_count: int = 0

    def statistics(self) -> BusStatistics:
        return BusStatistics(
            chats=len(self._chats),
            subscribers=sum(len(listening.members) for listening in self._chats.values()),
            received=self._received,
            undecodable=self._undecodable,
            announcements=self._announcements,
            lagged=self._lagged,
            gaps=self._gaps,
            filled=self._filled,
            lag_s_sum=self._lag_s_sum,
            lag_count=self._lag_count,
        )

    async def subscribe(
        self,
        chat_id: ChatId,
        user_id: UserId | None = None,
        outbox: SharedOutbox | None = None,
        on_owner: OnOwner | None = None,
    ) -> Subscription:
        """A live stream of the chat's events, published from any node, from now on.

        Events wait until :meth:`start` says which position the subscriber already has. With
        ``outbox``, into a user socket's outbox shared by its chats (as on the owner). The
        chat's owner announcements go to ``on_owner`` (the one given when this node began to
        listen to the chat). Raises ``ClusterUnavailable`` if Redis is unreachable. Always pair
        with ``unsubscribe``.
        """
        listening = self._chats.get(chat_id)
        if listening is None:
            listening = self._chats[chat_id] = _Listening(on_owner)
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
                return await self.subscribe(chat_id, user_id, outbox, on_owner)
        subscription = Subscription.open(
            id=SubscriptionId.bus(next(self._ids)), user_id=user_id, replay=(),
            resync_required=False, latest_seq=0, queue_size=self.queue_size, outbox=outbox,
        )  # fmt: skip
        listening.members[subscription.id] = _Member(subscription, chat_id)
        return subscription

    def start(self, chat_id: ChatId, subscription: Subscription, through_pos: int) -> None:
        """The subscriber has every log entry up to ``through_pos`` (its replay covers them):
        deliver what waited, and from now on skip older entries and fill gaps."""
        member = self._member(chat_id, subscription)
        if member is None or member.state is not MemberState.WAITING:
            return
        member.floor = through_pos
        member.state = MemberState.LIVE
        self._flush(self._chats[chat_id], member)

    def _flush(self, listening: _Listening, member: _Member) -> None:
        """Offer what waited, in order, until done or a new gap starts a fill."""
        while member.pending and member.state is MemberState.LIVE:
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
        member = self._member(chat_id, subscription)
        if member is None or member.state is MemberState.WAITING:
            return None
        return member.floor

    def subscribers(self, chat_id: ChatId) -> int:
        listening = self._chats.get(chat_id)
        return 0 if listening is None else len(listening.members)

    def _member(self, chat_id: ChatId, subscription: Subscription) -> _Member | None:
        listening = self._chats.get(chat_id)
        return None if listening is None else listening.members.get(subscription.id)

    def _deliver(self, chat_id: ChatId, data: bytes) -> None:
        listening = self._chats.get(chat_id)
        if listening is None:
            return
        try:
            message = codec.decode_bus_message(data)
        except codec.UndecodableMessage:
            self._undecodable += 1
            log.warning("chat %s: undecodable event on the bus", chat_id)
            return
        if self._holders is not None:
            self._holders.learn(chat_id, message.holder, trio.current_time())
        event = message.payload
        if isinstance(event, codec.OwnerAnnounced):
            self._announcements += 1
            if listening.on_owner is not None:
                listening.on_owner(chat_id, event)
            return
        self._received += 1
        if isinstance(event, MessageReceived):
            lag = (utc_now() - event.message.timestamp).total_seconds()
            self._lag_s_sum += max(0.0, lag)
            self._lag_count += 1
        envelope = Envelope(event)
        for member in list(listening.members.values()):
            if member.state is not MemberState.LIVE:
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
            if pos <= member.floor:
                return  # replayed already
            if pos > member.floor + 1:
                # Published while this node was cut off from Redis, or stored by an owner that
                # died (or lost its lease) before publishing: read the missing entries from the
                # store (every position below a published one is committed), or resume.
                self._gaps += 1
                missing = pos - member.floor - 1
                if self._history is None or self._nursery is None or missing > self.queue_size:
                    self._drop(listening, member, EndReason.LAGGED)
                    return
                member.pending.insert(0, event)
                member.state = MemberState.FILLING
                self._nursery.start_soon(self._fill, listening, member, member.floor, missing)
                return
            member.floor = pos
        if not member.subscription.offer(envelope):
            self._drop(listening, member, member.subscription.end_reason)
        elif member.subscription.user_id in removed_by(event):
            self._drop(listening, member, EndReason.REMOVED)

    async def _fill(self, listening: _Listening, member: _Member, floor: int, missing: int) -> None:
        assert self._history is not None
        try:
            entries = await self._history.read_log(member.chat_id, LogPage(floor, missing))
        except ChatError:
            entries = []
        if listening.members.get(member.subscription.id) is not member:
            return  # unsubscribed meanwhile
        member.state = MemberState.LIVE
        for entry in entries:
            self._filled += 1
            self._offer(listening, member, Envelope(entry))
        if member.floor != floor + missing:
            self._drop(listening, member, EndReason.LAGGED)  # the store could not fill it
            return
        self._flush(listening, member)

    def _drop(self, listening: _Listening, member: _Member, reason: EndReason | None) -> None:
        member.subscription.end(reason or EndReason.LAGGED)
        listening.members.pop(member.subscription.id, None)
        if member.subscription.end_reason is EndReason.LAGGED:
            self._lagged += 1
