"""LeasePlacement: the registry's ``Placement`` in cluster mode, a Redis lease per actor.

Activating a chat claims its lease (``ChatHeld`` becomes a 503: another node got there first;
the caller retries and is forwarded). While the actor lives, its ``LeaseActivation`` renews the
lease and publishes the actor's events on the chat's bus channel, in order, from one task, and
only while the lease is valid: a paused owner whose lease ran out publishes nothing stale.
Once the actor is loaded, the activation announces itself on the chat's channel (who owns the
chat now, under which tokens), so the nodes with sockets in the chat re-register them here.

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
from chatactors.cluster.bus import ChatBus
from chatactors.cluster.directory import ChatHeld, Directory
from chatactors.cluster.errors import ChatElsewhere, ClusterUnavailable, LeaseLost
from chatactors.cluster.keeper import LeaseKeeper
from chatactors.cluster.presence_snapshot import PresenceSnapshot
from chatactors.cluster.redis import MAX_BATCH, RedisReplyError
from chatactors.domain.errors import ChatUnavailable
from chatactors.domain.events import ChatEvent
from chatactors.domain.ids import ChatId

log = logging.getLogger(__name__)


@attrs.define
class PlacementCounters:
    claims: int = 0
    claims_refused: int = 0
    renewals: int = 0
    losses: int = 0
    #: Events not published because the lease was no longer valid (never delivered stale).
    withheld: int = 0
    #: Activations that took over users online from the one before (presence handovers).
    handovers: int = 0


@attrs.define(eq=False)
class LeaseActivation:
    _keeper: LeaseKeeper
    _bus: ChatBus
    _counters: PlacementCounters
    _send: trio.MemorySendChannel[ChatEvent]
    _receive: trio.MemoryReceiveChannel[ChatEvent]
    _lost: trio.Event = attrs.field(factory=trio.Event)
    _published_all: trio.Event = attrs.field(factory=trio.Event)
    _released: bool = False
    _announcement: codec.OwnerAnnounced | None = None
    _handover: Handover = attrs.field(factory=Handover)
    _snapshot: PresenceSnapshot | None = None

    @property
    def chat_id(self) -> ChatId:
        return self._keeper.lease.chat_id

    def is_valid(self) -> bool:
        return self._keeper.is_valid()

    def publish(self, event: ChatEvent) -> None:
        try:
            self._send.send_nowait(event)
        except trio.WouldBlock:
            # The bus is further behind than the queue allows: stop being the owner rather
            # than let other nodes' sockets miss events silently.
            self._on_lost(LeaseLost(self.chat_id, "events could not be published in time"))
        except trio.ClosedResourceError:
            self._counters.withheld += 1

    def _on_lost(self, lost: LeaseLost) -> None:
        if not self._lost.is_set():
            self._counters.losses += 1
            log.warning("chat %s: lease lost (%s)", self.chat_id, lost.reason)
            self._keeper.lost = self._keeper.lost or lost
            self._lost.set()

    def handover(self) -> Handover:
        return self._handover

    def started(self, owner_token: int) -> None:
        lease = self._keeper.lease
        self._announcement = codec.OwnerAnnounced(lease.node_id, lease.token, owner_token)

    async def keep(self) -> ChatUnavailable:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._renew)
            nursery.start_soon(self._publish_all)
            if self._announcement is not None:
                nursery.start_soon(self._announce, self._announcement)
            await self._lost.wait()
            nursery.cancel_scope.cancel()
        return self._keeper.lost or LeaseLost(self.chat_id, "lost")

    async def _renew(self) -> None:
        before = self._keeper.renewals
        while self._keeper.lost is None:
            await trio.sleep_until(self._keeper.timer.renew_at)
            await self._keeper.renew_before_deadline()
            self._counters.renewals += self._keeper.renewals - before
            before = self._keeper.renewals

    async def _publish_all(self) -> None:
        try:
            async for event in self._receive:
                # What the actor queued while the last batch was out goes in one round trip.
                events = [event]
                while len(events) < MAX_BATCH:
                    try:
                        events.append(self._receive.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break  # the loop then ends once the channel is closed and drained
                await self._publish_batch(events)
        finally:
            self._published_all.set()

    async def _publish_batch(self, events: list[ChatEvent]) -> None:
        recorded = self._snapshot is None
        while self.is_valid():
            try:
                if not recorded:
                    assert self._snapshot is not None
                    await self._snapshot.record(self.chat_id, events)
                    recorded = True
                await self._bus.publish_all_quietly(self.chat_id, events)
                return
            except ClusterUnavailable:
                await trio.sleep(self._keeper.timer.retry_interval_s)
        self._counters.withheld += len(events)

    async def _announce(self, announcement: codec.OwnerAnnounced) -> None:
        """Once, retried while Redis is unreachable, as long as this node owns the chat."""
        while self.is_valid():
            try:
                await self._bus.announce(self.chat_id, announcement)
                return
            except ClusterUnavailable:
                await trio.sleep(self._keeper.timer.retry_interval_s)

    async def release(self) -> None:
        if self._released:
            return
        self._released = True
        self._send.close()
        if not self._lost.is_set():
            with trio.move_on_at(self._keeper.timer.valid_until):
                await self._published_all.wait()
        self._lost.set()
        await self._keeper.release()


@attrs.define(eq=False)
class LeasePlacement:
    directory: Directory
    bus: ChatBus
    node_id: str
    #: Events an owner may have waiting to be published before it gives the chat up.
    outbox_size: int = 4096
    counters: PlacementCounters = attrs.field(factory=PlacementCounters)
    #: Where presence is handed from one activation to the next (None: it is not).
    snapshot: PresenceSnapshot | None = None

    async def activate(self, chat_id: ChatId) -> LeaseActivation:
        activation: LeaseActivation | None = None

        def on_lost(lost: LeaseLost) -> None:
            if activation is not None:
                activation._on_lost(lost)

        try:
            keeper = await LeaseKeeper.claim(self.directory, chat_id, self.node_id, on_lost)
        except ChatHeld as held:
            self.counters.claims_refused += 1
            raise ChatElsewhere(chat_id, held.holder.node_id, held.holder.token) from None
        self.counters.claims += 1
        handover = await self._handover(chat_id)
        send, receive = trio.open_memory_channel[ChatEvent](self.outbox_size)
        activation = LeaseActivation(keeper, self.bus, self.counters, send, receive,
                                     handover=handover, snapshot=self.snapshot)  # fmt: skip
        return activation

    async def _handover(self, chat_id: ChatId) -> Handover:
        """Who the previous activation had online (read after the claim, so it is final: an
        owner records only while its lease is valid). Redis failing just now costs the
        handover, not the activation: the users then start offline, as in one process."""
        if self.snapshot is None:
            return Handover()
        try:
            online = await self.snapshot.read(chat_id)
        except (ClusterUnavailable, RedisReplyError) as error:
            log.warning("chat %s: presence not handed over: %r", chat_id, error)
            return Handover()
        if online:
            self.counters.handovers += 1
        return Handover(online, catch_up_s=self.directory.lease_ttl_s)
