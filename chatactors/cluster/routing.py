"""ClusterMailbox: the ``Mailbox`` a node's handles use in cluster mode.

A command goes to the local mailbox when this node holds the chat (or nobody does yet: the
local activation then claims it, prefer-local placement), and is forwarded otherwise. Chats
this node holds by a lease it knows is valid skip the directory, so they keep working while
Redis is unreachable; everything else needs the directory and gets ``ClusterUnavailable``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import attrs

from chatactors.actors.commands import Command
from chatactors.actors.mailbox import Mailbox
from chatactors.actors.reply import Reply
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
    #: Whether this node holds a valid lease on the chat (its actors' keepers know).
    holds_locally: Callable[[ChatId], bool] = _holds_none

    async def submit(self, chat_id: ChatId, command: Command[R]) -> Reply[R]:
        if self.holds_locally(chat_id):
            return await self._local.submit(chat_id, command)
        holder = await self._directory.holder(chat_id)
        if holder is None or holder.node_id == self.node_id:
            return await self._local.submit(chat_id, command)
        return await self._forwarder.submit_to(holder.node_id, chat_id, command)
