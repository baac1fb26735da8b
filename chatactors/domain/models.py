"""The chat's data: frozen values that actors own and hand out."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from chatactors.domain.ids import BOT_USER, ChatId, MessageId, UserId


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


class ChatKind(enum.StrEnum):
    """A one-to-one chat keeps its two people (it gains no members: start a group instead)."""

    DIRECT = "direct"
    GROUP = "group"


class ChatChangeKind(enum.StrEnum):
    """What a change to a chat itself did (an entry of its log, as a system message)."""

    TITLE_CHANGED = "title_changed"
    MEMBERS_ADDED = "members_added"
    #: Someone else took the member out (the chat's admin).
    MEMBER_REMOVED = "member_removed"
    #: The member went by themself.
    MEMBER_LEFT = "member_left"


class PresenceStatus(enum.StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    TYPING = "typing"


@attrs.frozen
class Chat:
    id: ChatId
    #: De-duplicated in the order sent, then members in the order they were added, then
    #: ``bot_user`` once, always last.
    participants: tuple[UserId, ...]
    created_at: datetime
    #: None: no title (clients name the chat by its people).
    title: str | None = None
    kind: ChatKind = ChatKind.GROUP
    #: Who created it (None for a chat stored without one: its first participant is taken).
    created_by: UserId | None = None

    @property
    def humans(self) -> tuple[UserId, ...]:
        return tuple(user for user in self.participants if user != BOT_USER)

    @property
    def admin(self) -> UserId | None:
        """Who may remove others: the creator while a member, else the member who has been in
        the chat longest (the first in ``participants``); None once no human is left."""
        humans = self.humans
        if self.created_by in humans:
            return self.created_by
        return humans[0] if humans else None


@attrs.frozen
class ChatChange:
    """A change to a chat's title or members: what its system message records."""

    kind: ChatChangeKind
    #: Who made it (for ``member_left``, who left).
    by: UserId
    #: Who was added, removed, or left.
    users: tuple[UserId, ...] = ()
    #: The new title (``title_changed``; None: cleared).
    title: str | None = None


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
    #: sent or last edited; none once deleted, never on a system message.
    mentions: tuple[UserId, ...] = ()
    #: A system message: the record of a change to the chat itself (its ``content`` says it
    #: in words, from ``system.by``: a ``text`` message to a client that knows no more).
    system: ChatChange | None = None


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
