"""LeasePlacement: the registry's ``Placement`` in cluster mode, a Redis lease per actor.

Activating a chat claims its lease (``ChatHeld`` becomes a 503: another node got there first;
the caller retries and is forwarded) and gives it to the node's ``LeaseKeepers``, which renew
every lease the node holds together (``keep_leases``, one task for the node) until it is
released or lost. While the actor lives, its ``LeaseActivation`` hands the actor's events to an
``EventOutbox``, which publishes them on the chat's channel, in order, only while the lease is
valid: a paused owner whose lease ran out publishes nothing stale. Once the actor is loaded,
the activation announces itself on the chat's channel (who owns the chat now, under which
tokens), so the nodes with sockets in the chat re-register them here.

Presence crosses activations through a ``PresenceSnapshot``: each activation records the
presence changes it publishes, and the next one reads them right after its claim, so that its
actor starts with the users the cluster was told are online (``Handover``), not with everyone
offline.
"""

from __future__ import annotations

import logging

import attrs
import trio

from chatactors.actors.placement import Handover
from chatactors.cluster import codec
from chatactors.cluster.bus import chat_channel
from chatactors.cluster.directory import ChatHeld, Directory, Holder
from chatactors.cluster.errors import ChatElsewhere, ClusterUnavailable, LeaseLost
from chatactors.cluster.event_outbox import EventOutbox, OutboxCounters
from chatactors.cluster.keeper import LeaseKeeper, LeaseKeepers
from chatactors.cluster.presence_snapshot import PresenceSnapshot
from chatactors.cluster.redis import Publisher, RedisReplyError
from chatactors.domain.errors import ChatUnavailable
from chatactors.domain.events import ChatEvent
from chatactors.domain.ids import ChatId

log = logging.getLogger(__name__)

#: Events an owner may have waiting to be published before it gives the chat up, by default.
OWNER_QUEUE_SIZE = 4096


@attrs.frozen
class PlacementStatistics:
    #: Leases claimed here, and claims refused because another node held the chat.
    claims: int
    claims_refused: int
    #: Lease renewals Redis confirmed, and leases lost (not renewed in time, or taken).
    renewals: int
    losses: int
    #: Events published on the bus, and not published because the lease was no longer valid.
    published: int
    withheld: int
    #: Activations that took over users online from the one before (presence handovers).
    handovers: int


@attrs.define
class _Counters:
    claims: int = 0
    claims_refused: int = 0
    losses: int = 0
    handovers: int = 0
    events: OutboxCounters = attrs.field(factory=OutboxCounters)


@attrs.define(eq=False)
class LeaseActivation:
    _keeper: LeaseKeeper
    #: The node's keepers, renewing this activation's lease until it is released or lost.
    _keepers: LeaseKeepers
    _publisher: Publisher
    _counters: _Counters
    #: How many events may wait for Redis before the chat is given up.
    _queue_size: int = OWNER_QUEUE_SIZE
    _handover: Handover = attrs.field(factory=Handover)
    _snapshot: PresenceSnapshot | None = None
    _lost: trio.Event = attrs.field(factory=trio.Event)
    _released: bool = False
    _announcement: codec.OwnerAnnounced | None = None
    _outbox: EventOutbox = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        lease = self._keeper.lease
        self._outbox = EventOutbox(
            lease.chat_id, Holder(lease.node_id, lease.token), self._publisher, self.is_valid,
            self._keeper.timer.retry_interval_s, self._queue_size, self._overflowed,
            self._counters.events, self._snapshot,
        )  # fmt: skip

    @property
    def chat_id(self) -> ChatId:
        return self._keeper.lease.chat_id

    def is_valid(self) -> bool:
        return self._keeper.is_valid()

    def publish(self, event: ChatEvent) -> None:
        self._outbox.put(event)

    def _overflowed(self) -> None:
        # The bus is further behind than the queue allows: stop being the owner rather than
        # let other nodes' sockets miss events silently.
        self._on_lost(LeaseLost(self.chat_id, "events could not be published in time"))

    def _on_lost(self, lost: LeaseLost) -> None:
        if not self._lost.is_set():
            self._counters.losses += 1
            log.warning("chat %s: lease lost (%s)", self.chat_id, lost.reason)
            self._keeper.abandon(lost)
            self._keepers.forget(self._keeper)
            self._lost.set()

    def handover(self) -> Handover:
        return self._handover

    def started(self, owner_token: int) -> None:
        lease = self._keeper.lease
        self._announcement = codec.OwnerAnnounced(lease.node_id, lease.token, owner_token)

    async def keep(self) -> ChatUnavailable:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._outbox.retry)
            if self._announcement is not None:
                nursery.start_soon(self._announce, self._announcement)
            await self._lost.wait()
            nursery.cancel_scope.cancel()
        return self._keeper.lost or LeaseLost(self.chat_id, "lost")

    async def _announce(self, announcement: codec.OwnerAnnounced) -> None:
        """Once, retried while Redis is unreachable, as long as this node owns the chat."""
        data = codec.encode_announcement(announcement)
        while self.is_valid():
            try:
                await self._publisher.publish(chat_channel(self.chat_id), data)
                return
            except ClusterUnavailable:
                await trio.sleep(self._keeper.timer.retry_interval_s)

    async def release(self) -> None:
        if self._released:
            return
        self._released = True
        self._outbox.close()
        if not self._lost.is_set():
            with trio.move_on_at(self._keeper.timer.valid_until):
                await self._outbox.drain()
        self._lost.set()
        self._keepers.forget(self._keeper)
        await self._keeper.release()


@attrs.define(eq=False)
class LeasePlacement:
    _directory: Directory
    _publisher: Publisher
    node_id: str
    #: Where presence is handed from one activation to the next (None: it is not).
    _snapshot: PresenceSnapshot | None = None
    #: Events an owner may have waiting to be published before it gives the chat up.
    _queue_size: int = OWNER_QUEUE_SIZE
    _counters: _Counters = attrs.field(factory=_Counters)
    _keepers: LeaseKeepers = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._keepers = LeaseKeepers(self._directory)

    def statistics(self) -> PlacementStatistics:
        counters = self._counters
        return PlacementStatistics(
            claims=counters.claims,
            claims_refused=counters.claims_refused,
            renewals=self._keepers.statistics().renewals,
            losses=counters.losses,
            published=counters.events.published,
            withheld=counters.events.withheld,
            handovers=counters.handovers,
        )

    async def activate(self, chat_id: ChatId) -> LeaseActivation:
        activation: LeaseActivation | None = None

        def on_lost(lost: LeaseLost) -> None:
            if activation is not None:
                activation._on_lost(lost)

        try:
            keeper = await LeaseKeeper.claim(self._directory, chat_id, self.node_id, on_lost)
        except ChatHeld as held:
            self._counters.claims_refused += 1
            raise ChatElsewhere(chat_id, held.holder.node_id, held.holder.token) from None
        self._counters.claims += 1
        handover = await self._handover(chat_id)
        activation = LeaseActivation(
            keeper, self._keepers, self._publisher, self._counters, self._queue_size, handover,
            self._snapshot,
        )  # fmt: skip
        # From here on the registry releases it, whatever happens to the actor (or it is lost).
        self._keepers.keep(keeper)
        return activation

    async def keep_leases(self) -> None:
        """Renew the leases of every chat activated here; runs for the node's lifetime."""
        await self._keepers.run()

    async def _handover(self, chat_id: ChatId) -> Handover:
        """Who the previous activation had online (read after the claim, so it is final: an
        owner records only while its lease is valid). Redis failing just now costs the
        handover, not the activation: the users then start offline, as in one process."""
        if self._snapshot is None:
            return Handover()
        try:
            online = await self._snapshot.read(chat_id)
        except (ClusterUnavailable, RedisReplyError) as error:
            log.warning("chat %s: presence not handed over: %r", chat_id, error)
            return Handover()
        if online:
            self._counters.handovers += 1
        return Handover(online, catch_up_s=self._directory.lease_ttl_s)
