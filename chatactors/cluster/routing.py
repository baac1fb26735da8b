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
from chatactors.cluster.forwarder import Forwarder
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
    forwarded_local: int = 0

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
        if holder is None or holder.node_id == self.node_id:
            return await self._local.submit(chat_id, command)
        return await self._forwarder.submit_to(holder.node_id, chat_id, command)

    async def _subscribe(
        self, bus: ChatBus, chat_id: ChatId, command: Subscribe
    ) -> Reply[Subscription]:
        listening = await bus.subscribe(chat_id, command.user_id)
        try:
            reply = await self._route(chat_id, attrs.evolve(command, remote=True))
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
