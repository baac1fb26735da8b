"""The wire shapes the server sends (web/wire_out.py): reference frames, encoded once."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from chatactors.actors.subscription import Envelope
from chatactors.domain.events import ChatRead, MessageReceived, PresenceUpdated
from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import Message, MessageType, Presence, PresenceStatus
from chatactors.web.wire_out import envelope_frame, event_frame, message_json

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
