"""Mailbox: where a chat's commands go, whether the chat's actor runs here or on another node.

The same shape as the ``Mailbox`` protocol the core branch gives ``ChatHandle``
(``submit(chat_id, command) -> Reply[R]``); ``ChatRegistry`` already satisfies it. Kept here,
structurally, until that protocol is merged; then this module imports it instead.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from chatactors.actors.commands import Command
from chatactors.actors.reply import Reply
from chatactors.domain.ids import ChatId

R = TypeVar("R")


class Mailbox(Protocol):
    async def submit(self, chat_id: ChatId, command: Command[R]) -> Reply[R]:
        """Queue the command; its answer (or error) arrives on the Reply. May raise
        ``Overloaded`` or ``ChatUnavailable`` when the command could not be queued."""
        ...
