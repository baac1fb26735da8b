"""SocketRegistrations: this node's sockets, in the chats whichever node owns.

A socket for a chat this node holds (or that nobody holds yet, which this node then activates)
subscribes at the local actor directly, as in a single process: its events never go through
Redis and back. If the chat moves away while this node lives (a lost lease), the actor stops
and the socket is ended, as when a single process's actor stops; its client resumes by seq.

A socket for a chat another node holds is two halves: it listens on the chat's bus channel on
its own node (``ChatBus``, subscribed *before* registering, so nothing published after the
registration is missed), and the owner registers it (``Subscribe(remote=True)``, forwarded) for
presence and for its replay; the bus then skips what the replay covered.

A registration lives as long as the owner's activation (its ``SubscriptionId`` names that
activation's owner token). When another activation announces itself on the chat's channel (the
owner died or lost its lease), every socket here registered with an earlier one is registered
again with the new owner, from the log position it already has (nothing is replayed twice),
retried until it holds; the socket itself never notices. An owner that dies while nobody uses
its chat would never be followed by another: so each registration remembers its owner's node,
and when that node is gone (``OwnerWatch``), its sockets are registered again all the same,
which activates the chat elsewhere (here, by preference) once the dead owner's lease has
expired.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection

import attrs
import trio

from chatactors.actors.commands import Subscribe, Unsubscribe
from chatactors.actors.reply import Reply
from chatactors.actors.subscription import EndReason, Subscription
from chatactors.actors.subscription_id import SubscriptionId
from chatactors.cluster.bus import ChatBus
from chatactors.cluster.codec import OwnerAnnounced
from chatactors.cluster.command_routing import CommandRouter
from chatactors.cluster.directory import Holder
from chatactors.cluster.errors import ChatElsewhere
from chatactors.domain.errors import ChatError, ChatUnavailable, Overloaded, StoreUnavailable
from chatactors.domain.ids import ChatId

log = logging.getLogger(__name__)

#: First pause before registering sockets again after a failure (doubling up to the max).
REREGISTER_RETRY_S = 0.25
REREGISTER_RETRY_MAX_S = 2.0


@attrs.define(eq=False)
class _Registration:
    """A socket on this node, registered at its chat's owner."""

    listening: Subscription
    #: The owner's id for it, which names the activation that registered it.
    owner_id: SubscriptionId
    #: The node the owner runs on, when known (watched: ``owners_gone``).
    owner_node: str | None = None
    #: Its owner's node looked gone: registered again, with whichever activation is current.
    orphaned: bool = False


@attrs.frozen
class RegistrationStatistics:
    #: Sockets here registered at another node's actor, and subscribed at this node's own.
    registered: int
    direct: int
    #: Sockets registered again at a chat's new owner, and attempts to be retried.
    reregistered: int
    reregister_failures: int
    #: Sockets whose owner's node was gone (to be registered again).
    orphaned: int
    #: Chats whose sockets are being registered again now.
    reregistering: int


@attrs.define(eq=False)
class SocketRegistrations:
    node_id: str
    _router: CommandRouter
    _bus: ChatBus
    #: Where re-registrations and owner lookups run.
    _nursery: trio.Nursery
    #: Chat -> local bus subscription id -> its registration at the owner.
    _registered: dict[ChatId, dict[SubscriptionId, _Registration]] = attrs.field(factory=dict)
    #: Chats with sockets here -> the newest owner token announced on their channel.
    _owners: dict[ChatId, int] = attrs.field(factory=dict)
    #: Chats whose sockets are being registered again (one task per chat), each with the
    #: event that wakes its task from a retry's pause (a new owner announced itself).
    _reregistering: dict[ChatId, trio.Event] = attrs.field(factory=dict)
    #: Chat -> ids of sockets subscribed at this node's own actor for it (no bus).
    _direct: dict[ChatId, set[SubscriptionId]] = attrs.field(factory=dict)
    _reregistered: int = 0
    _reregister_failures: int = 0
    _orphaned: int = 0

    def statistics(self) -> RegistrationStatistics:
        return RegistrationStatistics(
            registered=sum(len(sockets) for sockets in self._registered.values()),
            direct=sum(len(sockets) for sockets in self._direct.values()),
            reregistered=self._reregistered,
            reregister_failures=self._reregister_failures,
            orphaned=self._orphaned,
            reregistering=len(self._reregistering),
        )

    async def subscribe(self, chat_id: ChatId, command: Subscribe) -> Subscription:
        """A socket's subscription to the chat, wherever its owner runs (``command`` is not
        ``remote``: that is what this sends to the owner)."""
        router = self._router
        if router.holds_locally(chat_id) or (await router.holder(chat_id))[0] is None:
            try:
                return await self._subscribe_directly(chat_id, command)
            except ChatElsewhere:
                pass  # another node won the race to activate it: listen on the bus
        listening = await self._bus.subscribe(
            chat_id, command.user_id, command.outbox, self.on_owner
        )
        try:
            reply = await router.submit(chat_id, attrs.evolve(command, remote=True, outbox=None))
            registered = await reply.wait()
        except BaseException:
            with trio.CancelScope(shield=True):
                await self._bus.unsubscribe(chat_id, listening)
            raise
        listening.replay = registered.replay
        listening.resync_required = registered.resync_required
        listening.latest_seq = registered.latest_seq
        listening.latest_pos = registered.latest_pos
        registration = _Registration(listening, registered.id)
        self._registered.setdefault(chat_id, {})[listening.id] = registration
        self._note_owner_node(chat_id, registration)
        self._bus.start(chat_id, listening, registered.latest_pos)
        if registered.id.owner_token < self._owners.get(chat_id, 0):
            self._reregister_soon(chat_id)  # a newer owner announced itself meanwhile
        return listening

    async def _subscribe_directly(self, chat_id: ChatId, command: Subscribe) -> Subscription:
        """At this node's own actor (activating the chat here if nobody holds it);
        ``ChatElsewhere`` if another node holds it after all."""
        subscription = await (await self._router.submit_locally(chat_id, command)).wait()
        self._direct.setdefault(chat_id, set()).add(subscription.id)
        return subscription

    async def unsubscribe(self, chat_id: ChatId, subscription_id: SubscriptionId) -> Reply[None]:
        """End a socket's subscription (and its registration at the owner, if any); the
        answer comes from the actor that had it, if it must be asked."""
        direct = self._direct.get(chat_id)
        if direct is not None and subscription_id in direct:
            direct.discard(subscription_id)
            if not direct:
                del self._direct[chat_id]
            if self._router.holds_locally(chat_id):
                return await self._router.submit_locally(chat_id, Unsubscribe(subscription_id))
            done: Reply[None] = Reply()  # its actor has stopped, and the subscription with it
            done.set(None)
            return done
        registrations = self._registered.get(chat_id, {})
        found = registrations.pop(subscription_id, None)
        if found is None:
            return await self._router.submit(chat_id, Unsubscribe(subscription_id))
        if not registrations:
            del self._registered[chat_id]
        await self._bus.unsubscribe(chat_id, found.listening)
        if self._bus.subscribers(chat_id) == 0:
            self._owners.pop(chat_id, None)
        # Registered with an owner that has gone since: the new one ignores that id.
        return await self._router.submit(chat_id, Unsubscribe(found.owner_id))

    # -- owner changes -----------------------------------------------------------------------

    def on_owner(self, chat_id: ChatId, announced: OwnerAnnounced) -> None:
        """The bus's handler for a chat's owner announcement (never blocks)."""
        self._router.learn(chat_id, Holder(announced.node_id, announced.lease_token))
        if announced.owner_token <= self._owners.get(chat_id, 0):
            return  # an earlier activation's, arriving late, or a repeat
        self._owners[chat_id] = announced.owner_token
        if self._stale(chat_id):
            self._reregister_soon(chat_id)

    def _stale(self, chat_id: ChatId) -> list[_Registration]:
        """The chat's live sockets registered with an activation older than the newest, or
        with one whose node is gone."""
        newest = self._owners.get(chat_id, 0)
        return [
            registration
            for registration in self._registered.get(chat_id, {}).values()
            if (registration.owner_id.owner_token < newest or registration.orphaned)
            and registration.listening.end_reason is None
        ]

    def owner_nodes(self) -> set[str]:
        """The other nodes this node's live sockets are registered at (to watch)."""
        return {
            registration.owner_node
            for registrations in self._registered.values()
            for registration in registrations.values()
            if registration.owner_node not in (None, self.node_id)
            and registration.listening.end_reason is None
        }

    def owners_gone(self, nodes: Collection[str]) -> None:
        """``nodes`` are gone (``OwnerWatch``): register their sockets again, with whichever
        activation of each chat is current (one is made once their leases expire)."""
        for chat_id, registrations in self._registered.items():
            orphaned = [
                r for r in registrations.values() if r.owner_node in nodes and not r.orphaned
            ]
            for registration in orphaned:
                registration.orphaned = True
            if orphaned:
                self._orphaned += len(orphaned)
                self._reregister_soon(chat_id)

    def _note_owner_node(self, chat_id: ChatId, registration: _Registration) -> None:
        """Note the node of the activation that just answered the registration: this one, or
        the holder cache's (just confirmed by the answer), else the directory's, looked up
        aside (the caller must not wait: it holds a registration it has not handed over)."""
        registration.owner_node = None
        if self._router.holds_locally(chat_id):
            registration.owner_node = self.node_id
            return
        cached = self._router.cached_holder(chat_id)
        if cached is not None:
            registration.owner_node = cached.node_id
        else:
            self._nursery.start_soon(self._look_up_owner_node, chat_id, registration)

    async def _look_up_owner_node(self, chat_id: ChatId, registration: _Registration) -> None:
        owner_id = registration.owner_id
        with contextlib.suppress(ChatError):  # Redis unreachable: an announcement moves it on
            holder = await self._router.look_up(chat_id)
            if holder is not None and registration.owner_id == owner_id:
                registration.owner_node = holder.node_id

    def _reregister_soon(self, chat_id: ChatId) -> None:
        waiting = self._reregistering.get(chat_id)
        if waiting is not None:
            waiting.set()  # try again now: the owner it waits for may be there
        else:
            self._reregistering[chat_id] = trio.Event()
            self._nursery.start_soon(self._reregister, chat_id)

    async def _reregister(self, chat_id: ChatId) -> None:
        """Register the chat's stale sockets with its newest owner, until none is left (the
        owner may change again meanwhile); after a failure (Redis unreachable, the chat
        moving again), wait and retry, or retry at once when a new owner announces itself."""
        retry_s = REREGISTER_RETRY_S
        try:
            while stale := self._stale(chat_id):
                # Set by an announcement during this round too: then no pause follows.
                wake = self._reregistering[chat_id] = trio.Event()
                done = [await self._reregister_one(chat_id, each) for each in stale]
                if all(done):
                    retry_s = REREGISTER_RETRY_S
                    continue
                with trio.move_on_after(retry_s):
                    await wake.wait()
                retry_s = min(2 * retry_s, REREGISTER_RETRY_MAX_S)
        finally:
            del self._reregistering[chat_id]

    async def _reregister_one(self, chat_id: ChatId, registration: _Registration) -> bool:
        """Register one socket again; False if it must be retried."""
        floor = self._bus.floor(chat_id, registration.listening)
        if floor is None:  # (not a member of the bus any more: its Unsubscribe is coming)
            floor = registration.listening.latest_pos
        # From the position it has: nothing to replay (the bus fills any gap from the store).
        command = Subscribe(registration.listening.user_id, remote=True, after_pos=floor)
        try:
            registered = await (await self._router.submit(chat_id, command)).wait()
        except (ChatUnavailable, Overloaded, StoreUnavailable) as error:
            log.info("chat %s: socket not registered with the new owner yet: %s", chat_id, error)
            self._reregister_failures += 1
            return False
        except ChatError as error:
            # The new owner refuses it: close the socket, whose client resumes by seq and
            # hears why (as a lagging socket does).
            log.warning("chat %s: socket not registered with the new owner: %s", chat_id, error)
            registration.listening.end(EndReason.LAGGED)
            return True
        current = self._registered.get(chat_id, {}).get(registration.listening.id)
        newer = registered.id.owner_token > registration.owner_id.owner_token
        if current is not registration or not newer:
            # Unsubscribed meanwhile, or registered with no newer activation (a stale route,
            # or an owner that only looked gone and lives on): undo this registration.
            with contextlib.suppress(ChatError):
                await (await self._router.submit(chat_id, Unsubscribe(registered.id))).wait()
            alive = registered.id.owner_token == registration.owner_id.owner_token
            if current is registration and registration.orphaned and alive:
                registration.orphaned = False
                self._note_owner_node(chat_id, registration)
                return True
            return current is not registration
        registration.owner_id = registered.id
        registration.orphaned = False
        self._note_owner_node(chat_id, registration)
        self._reregistered += 1
        return True
