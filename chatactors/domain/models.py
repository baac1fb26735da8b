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
class Message:
    id: MessageId
    chat_id: ChatId
    #: 1, 2, 3, ... within the chat: the order of the chat, and what a client resumes from.
    seq: int
    user_id: UserId
    type: MessageType
    content: str
    timestamp: datetime
    client_message_id: str | None = None


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
