"""ClusterMailbox: the ``Mailbox`` a node's handles use in cluster mode.

A command goes to the local mailbox when this node holds the chat (or nobody does yet: the
local activation then claims it, prefer-local placement), and is forwarded otherwise. Chats
this node holds by a lease it knows is valid skip the directory, so they keep working while
Redis is unreachable; everything else needs the directory and gets ``ClusterUnavailable``.

A subscription is two halves: the socket listens on the chat's bus channel on its own node
(subscribed *before* registering, so nothing published after the registration is missed), and
the owner registers it (``Subscribe(remote=True)``, local or forwarded) for presence and for its
replay; the bus then skips what the replay covered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import attrs
import trio

from chatactors.actors.commands import Command, Subscribe, Unsubscribe
from chatactors.actors.mailbox import Mailbox
from chatactors.actors.reply import Reply
from chatactors.actors.subscription import Subscription
from chatactors.cluster.bus import ChatBus
from chatactors.cluster.directory import Directory
from chatactors.cluster.errors import ChatElsewhere
from chatactors.cluster.forwarder import Forwarder
from chatactors.domain.errors import ChatError
from chatactors.domain.ids import ChatId

R = TypeVar("R")


def _holds_none(chat_id: ChatId) -> bool:
    return False


@attrs.define(eq=False)
class ClusterMailbox:
    node_id: str
    _local: Mailbox
    _directory: Directory
    _forwarder: Forwarder
    _bus: ChatBus | None = None
    #: Whether this node holds a valid lease on the chat (its actors' keepers know).
    holds_locally: Callable[[ChatId], bool] = _holds_none
    #: Local bus subscription id -> the owner's id for it (to unregister).
    _registered: dict[tuple[ChatId, int], tuple[Subscription, int]] = attrs.field(factory=dict)
    #: Where relays run (commands for a chat nobody held, which another node may win).
    _nursery: trio.Nursery | None = None
    _relaying: dict[ChatId, trio.Event] = attrs.field(factory=dict)
    #: Commands sent to the node that won a race to activate their chat.
    rerouted: int = 0

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
        holder = await self._directory.holder(chat_id)
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

    async def _subscribe(
        self, bus: ChatBus, chat_id: ChatId, command: Subscribe
    ) -> Reply[Subscription]:
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
        self._registered[chat_id, listening.id] = (listening, registered.id)
        bus.start(chat_id, listening, registered.latest_seq)
        answered: Reply[Subscription] = Reply()
        answered.set(listening)
        return answered

    async def _unsubscribe(self, bus: ChatBus, chat_id: ChatId, command: Unsubscribe) -> Reply[Any]:
        found = self._registered.pop((chat_id, command.subscription_id), None)
        if found is None:
            return await self._route(chat_id, command)
        listening, owner_id = found
        await bus.unsubscribe(chat_id, listening)
        return await self._route(chat_id, Unsubscribe(owner_id))
