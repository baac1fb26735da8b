"""The chat's data: frozen values that actors own and hand out."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from chatactors.domain.ids import ChatId, MessageId, UserId


class MessageType(enum.StrEnum):
    TEXT = "text"
    IMAGE = "image"
    AUDIO = "audio"


class ChangeKind(enum.StrEnum):
    """What a change to a message did (an entry of the chat's log beside the messages)."""

    EDITED = "edited"
    DELETED = "deleted"
    REACTION_ADDED = "reaction_added"
    REACTION_REMOVED = "reaction_removed"


class PresenceStatus(enum.StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    TYPING = "typing"


@attrs.frozen
class Chat:
    id: ChatId
    #: De-duplicated in the order sent, then ``bot_user`` once.
    participants: tuple[UserId, ...]
    created_at: datetime


@attrs.frozen
class Reaction:
    """One emoji key of a message's reactions, and who reacted with it, in the order they did."""

    emoji: str
    users: tuple[UserId, ...]


@attrs.frozen
class Message:
    """A message in its current state (a change makes a new value: messages are frozen)."""

    id: MessageId
    chat_id: ChatId
    #: 1, 2, 3, ... within the chat: the order of the chat, and what a client resumes from.
    seq: int
    user_id: UserId
    type: MessageType
    content: str
    timestamp: datetime
    client_message_id: str | None = None
    #: Its position in the chat's log (which numbers messages and changes alike); 0 for a
    #: message not stored yet. Messages stored before the log existed have ``pos == seq``.
    pos: int = 0
    #: The id of the message of the same chat it answers.
    reply_to: MessageId | None = None
    edited_at: datetime | None = None
    #: Deleted: ``content`` is empty and ``reactions`` too; the rest stays.
    deleted: bool = False
    #: In the order each emoji was first used.
    reactions: tuple[Reaction, ...] = ()
    #: The participants its text names with ``@`` (domain/mentions.py), found when it was
    #: sent or last edited; none once deleted.
    mentions: tuple[UserId, ...] = ()


@attrs.frozen
class Presence:
    user_id: UserId
    status: PresenceStatus
    #: Moves only when the user goes offline (as the reference does).
    last_seen: datetime


@attrs.frozen
class ReadMark:
    user_id: UserId
    #: The newest message the user has read, or None before any read.
    message_id: MessageId | None
    seq: int = 0


@attrs.frozen
class ChatSummary:
    """A chat as one user's chat list shows it."""

    chat: Chat
    last_message: Message | None
    unread_count: int
    last_activity: datetime
    #: Unread messages (after the user's read mark) that mention the user.
    unread_mentions: int = 0
