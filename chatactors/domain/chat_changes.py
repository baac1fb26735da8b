"""Changes to a chat itself, its title and its members: what each makes of the chat, who may
make it, and how it reads in the chat's history (the words of its system message).

The rules take the chat as it is now and who asks (a participant: the chat's actor checks that
first, as for any command), and answer the chat after the change with the change itself, None
when nothing would change, or raise. A system message is a ``text`` message from whoever made
the change, so a client that knows only the reference's message types shows it as that user
saying what happened ("alice added bob"); clients that know more read ``system``.
"""

from __future__ import annotations

from typing import assert_never

import attrs

from chatactors.domain.errors import InvalidInput, NotTheAdmin, ParticipantNotFound
from chatactors.domain.ids import BOT_USER, UserId
from chatactors.domain.models import Chat, ChatChange, ChatChangeKind, ChatKind
from chatactors.domain.rules import Limits, check_title

Changed = tuple[Chat, ChatChange]


def retitled(chat: Chat, by: UserId, title: str | None, limits: Limits) -> Changed | None:
    """Any participant names the chat (None clears its name); None if it has that name."""
    title = check_title(title, limits)
    if title == chat.title:
        return None
    change = ChatChange(ChatChangeKind.TITLE_CHANGED, by, title=title)
    return attrs.evolve(chat, title=title), change


def with_members(
    chat: Chat, by: UserId, users: tuple[UserId, ...], limits: Limits
) -> Changed | None:
    """Any participant of a group adds people (after the others, before ``bot_user``); those
    in already are left as they are; None if all are."""
    if chat.kind is ChatKind.DIRECT:
        raise InvalidInput(
            "a one-to-one chat cannot gain members: start a group chat with them instead"
        )
    new = tuple(user for user in users if user not in chat.participants and user != BOT_USER)
    if not new:
        return None
    humans = chat.humans
    if len(humans) + len(new) > limits.max_participants:
        raise InvalidInput(f"a chat has at most {limits.max_participants} participants")
    added = attrs.evolve(chat, participants=(*humans, *new, BOT_USER))
    return added, ChatChange(ChatChangeKind.MEMBERS_ADDED, by, users=new)


def without_member(chat: Chat, by: UserId, member: UserId) -> Changed:
    """A member leaves (``by == member``), or the chat's admin removes someone from a group;
    ``bot_user`` stays in every chat."""
    if member == BOT_USER:
        raise InvalidInput(f"{BOT_USER} stays in every chat")
    if member not in chat.participants:
        raise ParticipantNotFound(member, chat.id)
    kind = ChatChangeKind.MEMBER_LEFT
    if member != by:
        if chat.kind is ChatKind.DIRECT:
            raise InvalidInput("nobody is removed from a one-to-one chat; leave it instead")
        if by != chat.admin:
            raise NotTheAdmin(by, chat.admin)
        kind = ChatChangeKind.MEMBER_REMOVED
    remaining = tuple(user for user in chat.participants if user != member)
    return attrs.evolve(chat, participants=remaining), ChatChange(kind, by, users=(member,))


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
