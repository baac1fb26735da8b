"""The chat's data: frozen values that actors own and hand out."""

from __future__ import annotations

import enum
import functools
from datetime import datetime
from typing import Any

import attrs
import orjson

from chatactors.domain.clock import format_timestamp
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

    @functools.cached_property
    def wire_json(self) -> bytes:
        """The message as the wire shows it, encoded once.

        A message is sent many times (in pages, in events to every subscriber, in acks, in
        chat lists); they all embed these bytes (``orjson.Fragment``) instead of re-encoding.
        """
        wire: dict[str, Any] = {
            "id": self.id,
            "user_id": self.user_id,
            "type": self.type.value,
            "content": self.content,
            "timestamp": format_timestamp(self.timestamp),
            "seq": self.seq,
        }
        if self.client_message_id is not None:
            wire["client_message_id"] = self.client_message_id
        return orjson.dumps(wire)


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
