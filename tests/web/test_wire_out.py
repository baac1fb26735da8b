"""The wire shapes the server sends (web/wire_out.py): reference frames, encoded once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson

from chatactors.actors.commands import ChatInfo
from chatactors.actors.subscription import Envelope
from chatactors.domain.events import ChatRead, MessageReceived, PresenceUpdated
from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import (
    Chat,
    ChatChange,
    ChatChangeKind,
    Message,
    MessageType,
    Presence,
    PresenceStatus,
    Reaction,
)
from chatactors.web.wire import ChatChangeOut, ChatInfoOut, ChatOut, PresenceOut
from chatactors.web.wire_out import (
    change_to_wire,
    chat_info_to_wire,
    chat_to_wire,
    envelope_frame,
    event_frame,
    message_json,
    presence_to_wire,
)

MOMENT = datetime(2026, 11, 23, 21, 29, 16, 414000, tzinfo=UTC)


def test_event_frames_have_the_reference_shapes() -> None:
    message = Message(
        MessageId("m1"),
        ChatId("c1"),
        3,
        UserId("alice"),
        MessageType.IMAGE,
        "https://x/y.png",
        MOMENT,
    )
    assert orjson.loads(event_frame(MessageReceived(message))) == {
        "event": "message_received",
        "data": {
            "id": "m1",
            "user_id": "alice",
            "type": "image",
            "content": "https://x/y.png",
            "timestamp": "2026-11-23T21:29:16.414Z",
            "seq": 3,
            # Extensions (docs/API.md): a message's current state.
            "edited_at": None,
            "deleted": False,
            "reactions": {},
            "reply_to": None,
            "mentions": [],
        },
    }
    presence = Presence(UserId("bob"), PresenceStatus.TYPING, MOMENT)
    assert orjson.loads(event_frame(PresenceUpdated(presence))) == {
        "event": "presence_updated",
        "data": {"user_id": "bob", "status": "typing", "last_seen": "2026-11-23T21:29:16.414Z"},
    }
    read = ChatRead(ChatId("c1"), UserId("bob"), None, 0)
    assert orjson.loads(event_frame(read))["data"] == {
        "chat_id": "c1",
        "user_id": "bob",
        "last_read_message_id": None,
        "last_read_seq": 0,
    }


def test_client_message_id_appears_only_when_given() -> None:
    message = Message(
        MessageId("m1"),
        ChatId("c1"),
        1,
        UserId("a"),
        MessageType.TEXT,
        "hi",
        MOMENT,
        client_message_id="k",
    )
    assert orjson.loads(event_frame(MessageReceived(message)))["data"]["client_message_id"] == "k"


def test_an_envelope_is_encoded_once_for_every_subscriber() -> None:
    message = Message(MessageId("m1"), ChatId("c1"), 1, UserId("a"), MessageType.TEXT, "hi", MOMENT)
    envelope = Envelope(MessageReceived(message))
    first = envelope_frame(envelope)
    assert envelope.frame is first
    assert envelope_frame(envelope) is first
    # The message's JSON is cached too: the POST answer embeds the same bytes.
    assert message_json(message) is message_json(message)
    assert orjson.loads(first)["data"] == orjson.loads(message_json(message))


def test_a_messages_json_keeps_its_bytes() -> None:
    """Encoded from MessageOut (the type the document shows): the reference's keys in their
    order, the extensions after them, client_message_id and system only when there is one, and
    text as orjson wrote it before (raw UTF-8, controls escaped)."""
    message = Message(
        MessageId("m1"),
        ChatId("c1"),
        2,
        UserId('al"ice'),
        MessageType.TEXT,
        "é😀\n\x01\u2028",
        MOMENT,
        client_message_id="k",
        reply_to=MessageId("m0"),
        edited_at=MOMENT,
        reactions=(Reaction("👍", (UserId("bob"), UserId('al"ice'))),),
        system=ChatChange(ChatChangeKind.MEMBERS_ADDED, UserId("bob"), (UserId("dave"),)),
        mentions=(UserId("bob"),),
    )
    assert message_json(message) == (
        b'{"id":"m1","user_id":"al\\"ice","type":"text",'
        + '"content":"é😀\\n\\u0001\u2028",'.encode()
        + b'"timestamp":"2026-11-23T21:29:16.414Z","seq":2,"client_message_id":"k",'
        b'"edited_at":"2026-11-23T21:29:16.414Z","deleted":false,'
        + '"reactions":{"👍":["bob","al\\"ice"]},'.encode()
        + b'"reply_to":"m0","mentions":["bob"],'
        b'"system":{"action":"members_added","by":"bob","users":["dave"],"title":null}}'
    )
    plain = Message(MessageId("m2"), ChatId("c1"), 3, UserId("a"), MessageType.TEXT, "x", MOMENT)
    assert b"client_message_id" not in message_json(plain)
    assert b"system" not in message_json(plain)


def test_each_shape_decodes_as_the_type_the_document_shows() -> None:
    """The answers web/wire_out.py builds as dicts have exactly their wire type's keys."""
    chat = Chat(ChatId("c1"), (UserId("alice"), UserId("bot_user")), MOMENT, created_by=None)
    presence = Presence(UserId("bob"), PresenceStatus.TYPING, MOMENT)
    change = ChatChange(ChatChangeKind.TITLE_CHANGED, UserId("bob"), title="t")
    shapes: list[tuple[dict[str, Any], type[msgspec.Struct]]] = [
        (chat_to_wire(chat), ChatOut),
        (chat_info_to_wire(ChatInfo(chat, 4, 5)), ChatInfoOut),
        (presence_to_wire(presence), PresenceOut),
        (change_to_wire(change), ChatChangeOut),
    ]
    for wire, kind in shapes:
        wire = orjson.loads(orjson.dumps(wire))
        assert orjson.loads(msgspec.json.encode(msgspec.convert(wire, kind))) == wire
        assert list(wire) == list(kind.__struct_fields__)
