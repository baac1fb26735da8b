"""What happened in a chat, in past tense: the events subscribers receive.

Typed values only; their wire shapes (the reference's WebSocket frames) live in
``chatactors.web.wire_out``.
"""

from __future__ import annotations

import attrs

from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import ChangeKind, Chat, ChatChange, ChatChangeKind, Message, Presence


@attrs.frozen
class MessageReceived:
    """A new message: an entry of the chat's log at ``message.pos``."""

    message: Message


@attrs.frozen
class MessageUpdated:
    """A message changed (edited, deleted, reacted to): an entry of the chat's log at ``pos``.

    ``message`` is its whole state after the change; replayed from the store, its state now
    (the log keeps where and what each change was, not the versions it replaced).
    """

    message: Message
    pos: int
    change: ChangeKind


@attrs.frozen
class PresenceUpdated:
    presence: Presence


@attrs.frozen
class ChatRead:
    chat_id: ChatId
    user_id: UserId
    message_id: MessageId | None
    seq: int


@attrs.frozen
class ChatUpdated:
    """The chat's title or members changed: ``chat`` is its new state, ``change`` what changed.

    Not an entry of the log itself: the change's entry is the system message published just
    before it (``MessageReceived`` with ``message.system``), which replays and resumes carry.
    """

    chat: Chat
    change: ChatChange


#: The events that are entries of the chat's log (they have a ``pos``; the others do not).
LogEvent = MessageReceived | MessageUpdated
ChatEvent = MessageReceived | MessageUpdated | PresenceUpdated | ChatRead | ChatUpdated

_LEAVING = (ChatChangeKind.MEMBER_REMOVED, ChatChangeKind.MEMBER_LEFT)


def removed_by(event: ChatEvent) -> tuple[UserId, ...]:
    """The users whose access to the chat ends with this event: the log entry of a removal (or
    of a leave). Whoever delivers a chat's events (its actor, a node's bus) ends those users'
    subscriptions right after delivering this entry to them, so nothing later reaches them."""
    if isinstance(event, MessageReceived):
        change = event.message.system
        if change is not None and change.kind in _LEAVING:
            return change.users
    return ()


def log_position(event: ChatEvent) -> int | None:
    """The event's position in its chat's log; None for an event outside the log (presence,
    read marks)."""
    if isinstance(event, MessageReceived):
        return event.message.pos
    if isinstance(event, MessageUpdated):
        return event.pos
    return None
