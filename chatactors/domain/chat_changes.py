"""How a change to a chat reads in its history: the words of its system message.

A system message is a ``text`` message from whoever made the change, so a client that knows
only the reference's message types shows it as that user saying what happened
("alice added bob"); clients that know more read ``system`` and show a line of their own.
"""

from __future__ import annotations

from typing import assert_never

from chatactors.domain.ids import UserId
from chatactors.domain.models import ChatChange, ChatChangeKind


def describe(change: ChatChange) -> str:
    """The change in words, as its system message's ``content``."""
    by = change.by
    match change.kind:
        case ChatChangeKind.TITLE_CHANGED:
            if change.title is None:
                return f"{by} removed the chat's title"
            return f"{by} named the chat \u201c{change.title}\u201d"
        case ChatChangeKind.MEMBERS_ADDED:
            return f"{by} added {_names(change.users)}"
        case ChatChangeKind.MEMBER_REMOVED:
            return f"{by} removed {_names(change.users)}"
        case ChatChangeKind.MEMBER_LEFT:
            return f"{by} left"
        case _:
            assert_never(change.kind)


def _names(users: tuple[UserId, ...]) -> str:
    if len(users) <= 1:
        return "".join(users)
    return f"{', '.join(users[:-1])} and {users[-1]}"
