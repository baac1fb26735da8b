"""ClusterMailbox: the ``Mailbox`` a node's handles use in cluster mode.

A command goes to the local mailbox when this node holds the chat (or nobody does yet: the
local activation then claims it, prefer-local placement), and is forwarded otherwise. Chats
this node holds by a lease it knows is valid skip the directory, so they keep working while
Redis is unreachable; everything else needs the directory and gets ``ClusterUnavailable``.
Who holds a chat comes from the ``HolderCache`` when it knows, else from the directory; a
cached holder that is gone costs one more lookup, never an error the directory would not give.

A socket for a chat this node holds (or that nobody holds yet, which this node then activates)
subscribes at the local actor directly, as in a single process: its events never go through
Redis and back. If the chat moves away while this node lives (a lost lease), the actor stops
and the socket is ended, as when a single process's actor stops; its client resumes by seq.

A socket for a chat another node holds is two halves: it listens on the chat's bus channel on
its own node (subscribed *before* registering, so nothing published after the registration is
missed), and the owner registers it (``Subscribe(remote=True)``, forwarded) for presence and for
its replay; the bus then skips what the replay covered.

A registration lives as long as the owner's activation (its id names that activation's owner
token, ``registered_by``). When another activation announces itself on the chat's channel (the
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
from collections.abc import Callable, Collection
from typing import Any, TypeVar, cast

import attrs
import trio

from chatactors.actors.chat import registered_by
from chatactors.actors.commands import Command, Subscribe, Unsubscribe
from chatactors.actors.mailbox import Mailbox
from chatactors.actors.reply import Reply
from chatactors.actors.subscription import EndReason, Subscription
from chatactors.cluster.bus import ChatBus
from chatactors.cluster.codec import OwnerAnnounced
from chatactors.cluster.directory import Directory, Holder
from chatactors.cluster.errors import ChatElsewhere, ClusterUnavailable
from chatactors.cluster.forwarder import Forwarder
from chatactors.cluster.holders import HolderCache
from chatactors.domain.errors import ChatError, ChatUnavailable, Overloaded, StoreUnavailable
from chatactors.domain.ids import ChatId

log = logging.getLogger(__name__)
R = TypeVar("R")

#: First pause before registering sockets again after a failure (doubling up to the max).
REREGISTER_RETRY_S = 0.25
REREGISTER_RETRY_MAX_S = 2.0


def _holds_none(chat_id: ChatId) -> bool:
    return False


@attrs.define(eq=False)
class _Registration:
    """A socket on this node, registered at its chat's owner."""

    listening: Subscription
    #: The owner's id for it; its high bits name the activation (``registered_by``).
    owner_id: int
    #: The node the owner runs on, when known (watched: ``owners_gone``).
    owner_node: str | None = None
    #: Its owner's node looked gone: registered again, with whichever activation is current.
    orphaned: bool = False


@attrs.define(eq=False)
class ClusterMailbox:
    node_id: str
    _local: Mailbox
    _directory: Directory
    _forwarder: Forwarder
    _bus: ChatBus | None = None
    #: Whether this node holds a valid lease on the chat (its actors' keepers know).
    holds_locally: Callable[[ChatId], bool] = _holds_none
    #: Chat -> local bus subscription id -> its registration at the owner.
    _registered: dict[ChatId, dict[int, _Registration]] = attrs.field(factory=dict)
    #: Where relays and re-registrations run.
    _nursery: trio.Nursery | None = None
    _relaying: dict[ChatId, trio.Event] = attrs.field(factory=dict)
    #: Who holds which chat lately (None: ask the directory every time).
    holders: HolderCache | None = None
    #: Chats with sockets here -> the newest owner token announced on their channel.
    _owners: dict[ChatId, int] = attrs.field(factory=dict)
    #: Chats whose sockets are being registered again (one task per chat), each with the
    #: event that wakes its task from a retry's pause (a new owner announced itself).
    _reregistering: dict[ChatId, trio.Event] = attrs.field(factory=dict)
    #: Chat -> ids of sockets subscribed at this node's own actor for it (no bus).
    _direct: dict[ChatId, set[int]] = attrs.field(factory=dict)
    #: Commands sent to the node that won a race to activate their chat.
    rerouted: int = 0
    #: Sockets registered again at a chat's new owner, and attempts to be retried.
    reregistered: int = 0
    reregister_failures: int = 0
    #: Sockets whose owner's node was gone (to be registered again).
    orphaned: int = 0

    async def submit(self, chat_id: ChatId, command: Command[R]) -> Reply[R]:
        if self._bus is not None:
            if isinstance(command, Subscribe) and not command.remote:
                return cast(Reply[R], await self._subscribe(self._bus, chat_id, command))
            if isinstance(command, Unsubscribe):
                return cast(Reply[R], await self._unsubscribe(self._bus, chat_id, command))
        return await self._route(chat_id, command)

    async def _route(self, chat_id: ChatId, command: Command[R]) -> Reply[R]:
        if self.holds_locally(chat_id):
            return await self._local.submit(chat_id, command)
        holder, cached = await self._holder(chat_id)
        if holder is not None and holder.node_id != self.node_id:
            try:
                return await self._forwarder.submit_to(holder.node_id, chat_id, command)
            except ClusterUnavailable:
                raise
            except ChatUnavailable:
                if not cached:
                    raise
            # The cached holder is gone (the forwarder forgot it): ask the directory.
            holder = await self._lookup(chat_id)
            if holder is not None and holder.node_id != self.node_id:
                return await self._forwarder.submit_to(holder.node_id, chat_id, command)
        local = await self._local.submit(chat_id, command)
        if holder is not None or self._nursery is None:
            return local
        # Nobody held it: this node activates it, unless another node won the race; then the
        # command goes there. Relayed in submission order, so pipelined commands keep theirs.
        relayed: Reply[R] = Reply()
        done = trio.Event()
        before = self._relaying.get(chat_id)
        self._relaying[chat_id] = done
        self._nursery.start_soon(self._relay, chat_id, command, local, relayed, before, done)
        return relayed

    async def _relay(
        self,
        chat_id: ChatId,
        command: Command[R],
        local: Reply[R],
        relayed: Reply[R],
        before: trio.Event | None,
        done: trio.Event,
    ) -> None:
        try:
            await local.answered()
            if before is not None:
                await before.wait()
            try:
                relayed.set(local.result())
                return
            except ChatElsewhere as elsewhere:
                self.rerouted += 1
                self._learn(chat_id, Holder(elsewhere.node_id, elsewhere.token))
                try:
                    forwarded = await self._forwarder.submit_to(elsewhere.node_id, chat_id, command)
                except ChatError as error:
                    relayed.fail(error)
                    return
            except BaseException as error:
                relayed.fail(error)
                return
            await forwarded.answered()
            try:
                relayed.set(forwarded.result())
            except BaseException as error:
                relayed.fail(error)
        finally:
            done.set()
            if self._relaying.get(chat_id) is done:
                del self._relaying[chat_id]

    async def _holder(self, chat_id: ChatId) -> tuple[Holder | None, bool]:
        """Who holds the chat, and whether that came from the cache."""
        if self.holders is not None:
            cached = self.holders.get(chat_id, trio.current_time())
            if cached is not None:
                return cached, True
        return await self._lookup(chat_id), False

    async def _lookup(self, chat_id: ChatId) -> Holder | None:
        holder = await self._directory.holder(chat_id)
        if holder is not None:
            self._learn(chat_id, holder)
        return holder

    def _learn(self, chat_id: ChatId, holder: Holder) -> None:
        if self.holders is not None:
            self.holders.learn(chat_id, holder, trio.current_time())

    async def _subscribe(
        self, bus: ChatBus, chat_id: ChatId, command: Subscribe
    ) -> Reply[Subscription]:
        if self.holds_locally(chat_id) or (await self._holder(chat_id))[0] is None:
            try:
                return await self._subscribe_directly(chat_id, command)
            except ChatElsewhere:
                pass  # another node won the race to activate it: listen on the bus
        listening = await bus.subscribe(chat_id, command.user_id, command.outbox)
        try:
            reply = await self._route(chat_id, attrs.evolve(command, remote=True, outbox=None))
            registered = await reply.wait()
        except BaseException:
            with trio.CancelScope(shield=True):
                await bus.unsubscribe(chat_id, listening)
            raise
        listening.replay = registered.replay
        listening.resync_required = registered.resync_required
        listening.latest_seq = registered.latest_seq
        listening.latest_pos = registered.latest_pos
        registration = _Registration(listening, registered.id)
        self._registered.setdefault(chat_id, {})[listening.id] = registration
        self._note_owner_node(chat_id, registration)
        bus.start(chat_id, listening, registered.latest_pos)
        if registered_by(registered.id) < self._owners.get(chat_id, 0):
            self._reregister_soon(chat_id)  # a newer owner announced itself meanwhile
        answered: Reply[Subscription] = Reply()
        answered.set(listening)
        return answered

    async def _subscribe_directly(self, chat_id: ChatId, command: Subscribe) -> Reply[Subscription]:
        """At this node's own actor (activating the chat here if nobody holds it);
        ``ChatElsewhere`` if another node holds it after all."""
        subscription = await (await self._local.submit(chat_id, command)).wait()
        self._direct.setdefault(chat_id, set()).add(subscription.id)
        answered: Reply[Subscription] = Reply()
        answered.set(subscription)
        return answered

    async def _unsubscribe(self, bus: ChatBus, chat_id: ChatId, command: Unsubscribe) -> Reply[Any]:
        direct = self._direct.get(chat_id)
        if direct is not None and command.subscription_id in direct:
            direct.discard(command.subscription_id)
            if not direct:
                del self._direct[chat_id]
            if self.holds_locally(chat_id):
                return await self._local.submit(chat_id, command)
            done: Reply[Any] = Reply()  # its actor has stopped, and the subscription with it
            done.set(None)
            return done
        registrations = self._registered.get(chat_id, {})
        found = registrations.pop(command.subscription_id, None)
        if found is None:
            return await self._route(chat_id, command)
        if not registrations:
            del self._registered[chat_id]
        await bus.unsubscribe(chat_id, found.listening)
        if bus.subscribers(chat_id) == 0:
            self._owners.pop(chat_id, None)
        # Registered with an owner that has gone since: the new one ignores that id.
        return await self._route(chat_id, Unsubscribe(found.owner_id))

    # -- owner changes -----------------------------------------------------------------------

    def on_owner(self, chat_id: ChatId, announced: OwnerAnnounced) -> None:
        """The bus's handler for a chat's owner announcement (never blocks)."""
        self._learn(chat_id, Holder(announced.node_id, announced.lease_token))
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
            if (registered_by(registration.owner_id) < newest or registration.orphaned)
            and registration.listening.end_reason is None
        ]

    @property
    def reregistering(self) -> int:
        """Chats whose sockets are being registered again, now."""
        return len(self._reregistering)

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
                self.orphaned += len(orphaned)
                self._reregister_soon(chat_id)

    def _note_owner_node(self, chat_id: ChatId, registration: _Registration) -> None:
        """Note the node of the activation that just answered the registration: this one, or
        the holder cache's (just confirmed by the answer), else the directory's, looked up
        aside (the caller must not wait: it holds a registration it has not handed over)."""
        registration.owner_node = None
        if self.holds_locally(chat_id):
            registration.owner_node = self.node_id
            return
        cached = None if self.holders is None else self.holders.peek(chat_id, trio.current_time())
        if cached is not None:
            registration.owner_node = cached.node_id
        elif self._nursery is not None:
            self._nursery.start_soon(self._look_up_owner_node, chat_id, registration)

    async def _look_up_owner_node(self, chat_id: ChatId, registration: _Registration) -> None:
        owner_id = registration.owner_id
        with contextlib.suppress(ChatError):  # Redis unreachable: an announcement moves it on
            holder = await self._lookup(chat_id)
            if holder is not None and registration.owner_id == owner_id:
                registration.owner_node = holder.node_id

    def _reregister_soon(self, chat_id: ChatId) -> None:
        waiting = self._reregistering.get(chat_id)
        if waiting is not None:
            waiting.set()  # try again now: the owner it waits for may be there
        elif self._nursery is not None:
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
        assert self._bus is not None
        floor = self._bus.floor(chat_id, registration.listening)
        if floor is None:  # (not a member of the bus any more: its Unsubscribe is coming)
            floor = registration.listening.latest_pos
        # From the position it has: nothing to replay (the bus fills any gap from the store).
        command = Subscribe(registration.listening.user_id, remote=True, after_pos=floor)
        try:
            registered = await (await self._route(chat_id, command)).wait()
        except (ChatUnavailable, Overloaded, StoreUnavailable) as error:
            log.info("chat %s: socket not registered with the new owner yet: %s", chat_id, error)
            self.reregister_failures += 1
            return False
        except ChatError as error:
            # The new owner refuses it: close the socket, whose client resumes by seq and
            # hears why (as a lagging socket does).
            log.warning("chat %s: socket not registered with the new owner: %s", chat_id, error)
            registration.listening.end(EndReason.LAGGED)
            return True
        current = self._registered.get(chat_id, {}).get(registration.listening.id)
        newer = registered_by(registered.id) > registered_by(registration.owner_id)
        if current is not registration or not newer:
            # Unsubscribed meanwhile, or registered with no newer activation (a stale route,
            # or an owner that only looked gone and lives on): undo this registration.
            with contextlib.suppress(ChatError):
                await (await self._route(chat_id, Unsubscribe(registered.id))).wait()
            alive = registered_by(registered.id) == registered_by(registration.owner_id)
            if current is registration and registration.orphaned and alive:
                registration.orphaned = False
                self._note_owner_node(chat_id, registration)
                return True
            return current is not registration
        registration.owner_id = registered.id
        registration.orphaned = False
        self._note_owner_node(chat_id, registration)
        self.reregistered += 1
        return True
