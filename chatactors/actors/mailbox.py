"""Mailbox: how a command reaches a chat's actor, wherever that actor runs.

``ChatHandle`` depends only on this protocol. ``ChatRegistry`` implements it for actors in this
process; in cluster mode the handles use the cluster's ``ClusterMailbox`` instead, which sends
each command to this registry or forwards it to the node that holds the chat.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

import attrs

from chatactors.actors.commands import AnyCommand, Command
from chatactors.actors.reply import Reply
from chatactors.domain.ids import ChatId

R = TypeVar("R")


class Mailbox(Protocol):
    async def submit(self, chat_id: ChatId, command: Command[R]) -> Reply[R]:
        """Queue ``command`` at the chat's actor; its answer arrives on the returned Reply.

        Raises ``Overloaded`` if the chat's inbox stays full and ``ChatUnavailable`` if the chat
        cannot take commands (crashed, or the server is stopping).
        """
        ...


@attrs.frozen
class Request:
    """The envelope in an actor's inbox: the command and where its answer goes."""

    command: AnyCommand
    reply: Reply[Any]
