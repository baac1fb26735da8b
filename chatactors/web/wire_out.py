"""What the server sends: the JSON of messages, chats, presence and events, in one place.

The wire names and keys come from the reference contract; extensions only add keys. Encoding
happens once where it counts: an event's frame once per event (kept in the ``Envelope`` every
subscriber shares), a message's JSON once per message state (kept here for as long as the
message lives, and embedded with ``orjson.Fragment`` in pages, frames, acks and chat lists).

Reference frames are ``{"event", "data"}`` exactly; ``chatactors.v1`` frames of log entries
add the entry's position, ``{"event", "data", "pos"}``, spliced onto the same encoded text.
``message_updated`` and ``chat_updated`` exist only on ``chatactors.v1`` (a reference socket
never gets them); a system message (the record of a change to the chat) is a ``text`` message
with a ``system`` key, so it makes sense to a client that knows nothing more.
"""

from __future__ import annotations

import weakref
from typing import Any, assert_never

import msgspec
import orjson
from msgspec import UNSET

from chatactors.actors.commands import ChatInfo
from chatactors.actors.subscription import Envelope
from chatactors.domain.clock import format_timestamp
from chatactors.domain.events import (
    ChatEvent,
    ChatRead,
    ChatUpdated,
    MessageReceived,
    MessageUpdated,
    PresenceUpdated,
    log_position,
)
from chatactors.domain.models import Chat, ChatChange, Message, Presence
from chatactors.web.wire import ChatChangeOut, MessageOut

_encode = msgspec.json.Encoder().encode
#: id(message) -> (a weak reference that drops the entry when the message dies, its JSON).
#: Keyed by identity, not value: hashing a message would cost more than encoding it.
_message_json: dict[int, tuple[weakref.ref[Message], bytes]] = {}


def _forget(key: int) -> Any:
    return lambda _: _message_json.pop(key, None)


def message_json(message: Message) -> bytes:
    """The message's wire object, encoded once while the message lives (in a chat's window)."""
    key = id(message)
    cached = _message_json.get(key)
    if cached is not None:
        return cached[1]
    client_message_id, edited_at = message.client_message_id, message.edited_at
    encoded = _encode(
        MessageOut(
            id=message.id,
            user_id=message.user_id,
            type=message.type,
            content=message.content,
            timestamp=format_timestamp(message.timestamp),
            seq=message.seq,
            client_message_id=UNSET if client_message_id is None else client_message_id,
            edited_at=None if edited_at is None else format_timestamp(edited_at),
            deleted=message.deleted,
            reactions={r.emoji: r.users for r in message.reactions},
            reply_to=message.reply_to,
            mentions=message.mentions,
            system=UNSET if message.system is None else change_out(message.system),
        )
    )
    _message_json[key] = (weakref.ref(message, _forget(key)), encoded)
    return encoded


def message_to_wire(message: Message) -> orjson.Fragment:
    """The message's wire object, to embed in any answer or frame."""
    return orjson.Fragment(message_json(message))


def presence_to_wire(presence: Presence) -> dict[str, Any]:
    return {
        "user_id": presence.user_id,
        "status": presence.status.value,
        "last_seen": format_timestamp(presence.last_seen),
    }


def chat_to_wire(chat: Chat) -> dict[str, Any]:
    """The reference's three keys, then the chat's title, kind, creator and admin."""
    return {
        "chat_id": chat.id,
        "participants": list(chat.participants),
        "created_at": format_timestamp(chat.created_at),
        "title": chat.title,
        "kind": chat.kind.value,
        "created_by": chat.created_by,
        "admin": chat.admin,
    }


def chat_info_to_wire(info: ChatInfo) -> dict[str, Any]:
    """A chat as ``GET /chats/{id}`` shows it: with its latest seq and log position."""
    return {**chat_to_wire(info.chat), "last_seq": info.last_seq, "last_pos": info.last_pos}


def change_out(change: ChatChange) -> ChatChangeOut:
    """What a change to a chat did: a system message's ``system``, a ``chat_updated``'s
    ``change``."""
    return ChatChangeOut(change.kind, change.by, change.users, change.title)


def change_to_wire(change: ChatChange) -> dict[str, Any]:
    wire: dict[str, Any] = msgspec.to_builtins(change_out(change))
    return wire


def event_to_wire(event: ChatEvent) -> dict[str, Any]:
    """``{"event": name, "data": ...}``: the reference's frame of a chat event."""
    match event:
        case MessageReceived(message):
            return {"event": "message_received", "data": message_to_wire(message)}
        case MessageUpdated(message):
            return {"event": "message_updated", "data": message_to_wire(message)}
        case PresenceUpdated(presence):
            return {"event": "presence_updated", "data": presence_to_wire(presence)}
        case ChatRead(chat_id, user_id, message_id, seq):
            data = {
                "chat_id": chat_id,
                "user_id": user_id,
                "last_read_message_id": message_id,
                "last_read_seq": seq,
            }
            return {"event": "chat_read", "data": data}
        case ChatUpdated(chat, change):
            return {
                "event": "chat_updated",
                "data": {**chat_to_wire(chat), "change": change_to_wire(change)},
            }
        case _:
            assert_never(event)


def event_frame(event: ChatEvent) -> str:
    """The text frame of an event, as a reference socket gets it."""
    return orjson.dumps(event_to_wire(event)).decode()


def v1_event(event: ChatEvent) -> str:
    """The event's object as ``chatactors.v1`` sends it (one of a frame's array)."""
    return with_pos(event_frame(event), event)


def with_pos(frame: str, event: ChatEvent) -> str:
    """``frame`` (the event's reference frame) with ``"pos"`` added if the event has one."""
    pos = log_position(event)
    return frame if pos is None else f'{frame[:-1]},"pos":{pos}}}'


def envelope_frame(envelope: Envelope) -> str:
    """The reference frame of a published event, encoded by the first subscriber that sends it."""
    frame = envelope.frame
    if frame is None:
        frame = envelope.frame = event_frame(envelope.event)
    return frame


def envelope_v1_event(envelope: Envelope) -> str:
    """The ``chatactors.v1`` object of a published event, made once for every v1 socket."""
    v1 = envelope.v1_frame
    if v1 is None:
        v1 = envelope.v1_frame = with_pos(envelope_frame(envelope), envelope.event)
    return v1


def for_reference_clients(event: ChatEvent) -> bool:
    """Whether a socket without ``chatactors.v1`` gets this event (the reference's three)."""
    return not isinstance(event, MessageUpdated | ChatUpdated)
