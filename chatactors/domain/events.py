"""What happened in a chat: the WebSocket events, in past tense, with their wire shapes.

The wire names and keys come from the reference contract; extensions only add keys.
"""

from __future__ import annotations

from typing import Any

import attrs
import orjson

from chatactors.domain.clock import format_timestamp
from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import Chat, Message, Presence


def message_to_wire(message: Message) -> orjson.Fragment:
    """The message's wire object, to embed in any answer or frame (encoded once per message)."""
    return orjson.Fragment(message.wire_json)


def presence_to_wire(presence: Presence) -> dict[str, Any]:
    return {
        "user_id": presence.user_id,
        "status": presence.status.value,
        "last_seen": format_timestamp(presence.last_seen),
    }


def chat_to_wire(chat: Chat) -> dict[str, Any]:
    return {
        "chat_id": chat.id,
        "participants": list(chat.participants),
        "created_at": format_timestamp(chat.created_at),
    }


@attrs.frozen
class MessageReceived:
    message: Message
    name = "message_received"

    def data(self) -> orjson.Fragment:
        return message_to_wire(self.message)


@attrs.frozen
class PresenceUpdated:
    presence: Presence
    name = "presence_updated"

    def data(self) -> dict[str, Any]:
        return presence_to_wire(self.presence)


@attrs.frozen
class ChatRead:
    chat_id: ChatId
    user_id: UserId
    message_id: MessageId | None
    seq: int
    name = "chat_read"

    def data(self) -> dict[str, Any]:
        return {
            "chat_id": self.chat_id,
            "user_id": self.user_id,
            "last_read_message_id": self.message_id,
            "last_read_seq": self.seq,
        }


ChatEvent = MessageReceived | PresenceUpdated | ChatRead


def encode_event(event: ChatEvent) -> str:
    """The text frame of an event. Called once per event; every subscriber gets the same str."""
    return orjson.dumps({"event": event.name, "data": event.data()}).decode()
