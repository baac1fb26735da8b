"""What happened in a chat, in past tense: the events subscribers receive.

Typed values only; their wire shapes (the reference's WebSocket frames) live in
``chatactors.web.wire_out``.
"""

from __future__ import annotations

import attrs

from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import Message, Presence


@attrs.frozen
class MessageReceived:
    message: Message


@attrs.frozen
class PresenceUpdated:
    presence: Presence


@attrs.frozen
class ChatRead:
    chat_id: ChatId
    user_id: UserId
    message_id: MessageId | None
    seq: int


ChatEvent = MessageReceived | PresenceUpdated | ChatRead
