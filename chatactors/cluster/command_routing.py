"""CommandRouter: where a command for a chat goes, from this node.

To the local registry when this node holds the chat (or nobody does yet: the local activation
then claims it, prefer-local placement), and forwarded to the holder's node otherwise. Chats
this node holds by a lease it knows is valid skip the directory, so they keep working while
Redis is unreachable; everything else needs the directory and gets ``ClusterUnavailable``.
Who holds a chat comes from the ``HolderCache`` when it knows, else from the directory; a
cached holder that is gone costs one more lookup, never an error the directory would not give.

When nobody held the chat and another node wins the race to activate it, the local activation
answers ``ChatElsewhere`` before running anything: the command is then relayed to the winner,
in submission order, so that pipelined commands keep theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import attrs
import trio

from chatactors.actors.commands import Command
from chatactors.actors.mailbox import Mailbox
from chatactors.actors.reply import Reply
from chatactors.cluster.directory import Directory, Holder
from chatactors.cluster.errors import ChatElsewhere, ClusterUnavailable
from chatactors.cluster.forwarder import Forwarder
from chatactors.cluster.holders import HolderCache
from chatactors.domain.errors import ChatError, ChatUnavailable
from chatactors.domain.ids import ChatId

R = TypeVar("R")


@attrs.frozen
class RouterStatistics:
    #: Commands this node sent to the node that won a race to activate their chat.
    rerouted: int


@attrs.define(eq=False)
class CommandRouter:
    node_id: str
    #: This node's registry: the chats it holds, or activates.
    _local: Mailbox
    #: Whether this node holds a valid lease on the chat (its actors' keepers know).
    holds_locally: Callable[[ChatId], bool]
    _directory: Directory
    _forwarder: Forwarder
    #: Who holds which chat lately (None: ask the directory every time).
    _holders: HolderCache | None
    #: Where relays run.
    _nursery: trio.Nursery
    _relaying: dict[ChatId, trio.Event] = attrs.field(factory=dict)
    _rerouted: int = 0

    def statistics(self) -> RouterStatistics:
        return RouterStatistics(self._rerouted)

    async def submit(self, chat_id: ChatId, command: Command[R]) -> Reply[R]:
        """Send ``command`` to the chat's actor, wherever it runs (see ``Mailbox.submit``)."""
        if self.holds_locally(chat_id):
            return await self._local.submit(chat_id, command)
        holder, cached = await self.holder(chat_id)
        if holder is not None and holder.node_id != self.node_id:
            try:
                return await self._forwarder.submit_to(holder.node_id, chat_id, command)
            except ClusterUnavailable:
                raise
            except ChatUnavailable:
                if not cached:
                    raise
            # The cached holder is gone (the forwarder forgot it): ask the directory.
            holder = await self.look_up(chat_id)
            if holder is not None and holder.node_id != self.node_id:
                return await self._forwarder.submit_to(holder.node_id, chat_id, command)
        local = await self._local.submit(chat_id, command)
        if holder is not None:
            return local
        # Nobody held it: this node activates it, unless another node won the race; then the
        # command goes there. Relayed in submission order, so pipelined commands keep theirs.
        relayed: Reply[R] = Reply()
        done = trio.Event()
        before = self._relaying.get(chat_id)
        self._relaying[chat_id] = done
        self._nursery.start_soon(self._relay, chat_id, command, local, relayed, before, done)
        return relayed

    async def submit_locally(self, chat_id: ChatId, command: Command[R]) -> Reply[R]:
        """At this node's own registry, whoever holds the chat (it activates it if nobody
        does; ``ChatElsewhere`` if another node does)."""
        return await self._local.submit(chat_id, command)

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
                self._rerouted += 1
                self.learn(chat_id, Holder(elsewhere.node_id, elsewhere.token))
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

    async def holder(self, chat_id: ChatId) -> tuple[Holder | None, bool]:
        """Who holds the chat, and whether that came from the cache."""
        if self._holders is not None:
            cached = self._holders.get(chat_id, trio.current_time())
            if cached is not None:
                return cached, True
        return await self.look_up(chat_id), False

    def cached_holder(self, chat_id: ChatId) -> Holder | None:
        """The cached holder, if fresh (not counted as a hit: for bookkeeping)."""
        return None if self._holders is None else self._holders.peek(chat_id, trio.current_time())

    async def look_up(self, chat_id: ChatId) -> Holder | None:
        """Who holds the chat, as the directory says now. Raises ``ClusterUnavailable``."""
        holder = await self._directory.holder(chat_id)
        if holder is not None:
            self.learn(chat_id, holder)
        return holder

    def learn(self, chat_id: ChatId, holder: Holder) -> None:
        if self._holders is not None:
            self._holders.learn(chat_id, holder, trio.current_time())
