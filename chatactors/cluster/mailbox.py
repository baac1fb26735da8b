"""ClusterMailbox: the ``Mailbox`` this node's handles use in cluster mode.

A socket's ``Subscribe`` and ``Unsubscribe`` go to ``SocketRegistrations`` (the bus here, a
registration at the owner); every other command to the ``CommandRouter`` (here, or forwarded
to the node that holds the chat). ``ChatHandle``, the routes and the bot work over it
unchanged.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

import attrs

from chatactors.actors.commands import Command, Subscribe, Unsubscribe
from chatactors.actors.reply import Reply
from chatactors.cluster.command_routing import CommandRouter
from chatactors.cluster.socket_registrations import SocketRegistrations
from chatactors.domain.ids import ChatId

R = TypeVar("R")


@attrs.frozen(eq=False)
class ClusterMailbox:
    commands: CommandRouter
    sockets: SocketRegistrations

    async def submit(self, chat_id: ChatId, command: Command[R]) -> Reply[R]:
        if isinstance(command, Subscribe) and not command.remote:
            subscribed: Reply[Any] = Reply()
            subscribed.set(await self.sockets.subscribe(chat_id, command))
            return cast(Reply[R], subscribed)
        if isinstance(command, Unsubscribe):
            return cast(Reply[R], await self.sockets.unsubscribe(chat_id, command.subscription_id))
        return await self.commands.submit(chat_id, command)
