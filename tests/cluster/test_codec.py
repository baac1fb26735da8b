"""The cluster edge's bytes: values come back equal; errors keep their class and text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

from chatactors.actors.commands import (
    AddParticipants,
    ChatChanged,
    ChatInfo,
    GetChat,
    GetMessages,
    PostMessage,
    RemoveParticipant,
    SetPresence,
    SetTitle,
    Subscribe,
    Unsubscribe,
)
from chatactors.actors.subscription import SharedOutbox, Subscription
from chatactors.actors.subscription_id import SubscriptionId
from chatactors.cluster import codec
from chatactors.cluster.directory import Holder
from chatactors.cluster.errors import ChatElsewhere, ClusterUnavailable, LeaseLost
from chatactors.domain.errors import (
    ChatNotFound,
    ChatUnavailable,
    NotAParticipant,
    NotTheAdmin,
    OutcomeUnknown,
    Overloaded,
    ParticipantNotFound,
)
from chatactors.domain.events import ChatRead, ChatUpdated, MessageReceived, PresenceUpdated
from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import (
    Chat,
    ChatChange,
    ChatChangeKind,
    ChatKind,
    Message,
    MessageType,
    Presence,
    PresenceStatus,
)
from chatactors.storage.store import MessagePage

WHEN = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)
MESSAGE = Message(
    MessageId("m1"), ChatId("c1"), 7, UserId("ann"), MessageType.TEXT, "hé \x00", WHEN, "cid-1"
)
ADDED = ChatChange(ChatChangeKind.MEMBERS_ADDED, UserId("ann"), (UserId("bob"), UserId("cy")))
SYSTEM = Message(MessageId("m2"), ChatId("c1"), 8, UserId("ann"), MessageType.TEXT,
                 "ann added bob and cy", WHEN, pos=9, system=ADDED)  # fmt: skip
TITLED = Chat(ChatId("c1"), (UserId("ann"), UserId("bob"), UserId("cy"), UserId("bot_user")),
              WHEN, "Trip \u2708", ChatKind.GROUP, UserId("ann"))  # fmt: skip


@pytest.mark.parametrize(
    "event",
    [
        MessageReceived(MESSAGE),
        MessageReceived(attrs.evolve(MESSAGE, mentions=(UserId("bob"), UserId("bot_user")))),
        PresenceUpdated(Presence(UserId("ann"), PresenceStatus.TYPING, WHEN)),
        ChatRead(ChatId("c1"), UserId("bob"), MessageId("m1"), 7),
        ChatRead(ChatId("c1"), UserId("bob"), None, 0),
        MessageReceived(SYSTEM),
        ChatUpdated(TITLED, ADDED),
        ChatUpdated(
            Chat(ChatId("c2"), (UserId("bot_user"),), WHEN, kind=ChatKind.DIRECT),
            ChatChange(ChatChangeKind.TITLE_CHANGED, UserId("ann"), title=None),
        ),
    ],
)
def test_events_cross_unchanged(event: Any) -> None:
    holder = Holder("node-a", 1)
    decoded = codec.decode_bus_message(codec.encode_bus_event(event, holder))
    assert decoded == codec.BusMessage(event, holder)
    assert type(decoded.payload) is type(event)


def test_commands_and_their_replies_cross_typed() -> None:
    online = Presence(UserId("ann"), PresenceStatus.ONLINE, WHEN)
    cases: list[tuple[Any, Any]] = [
        (PostMessage(UserId("ann"), MessageType.IMAGE, "/media/x", None), MESSAGE),
        (SetPresence(UserId("ann"), PresenceStatus.ONLINE), online),
        (GetMessages(MessagePage(50, before_seq=9), UserId("ann")), [MESSAGE, MESSAGE]),
        (GetChat(None), ChatInfo(Chat(ChatId("c1"), (UserId("ann"), UserId("bot_user")), WHEN), 7)),
        (GetChat(None), ChatInfo(TITLED, 8, 9)),
        (SetTitle(UserId("ann"), "Trip \u2708"), ChatChanged(ChatInfo(TITLED, 8, 9), SYSTEM)),
        (SetTitle(UserId("ann"), None), ChatChanged(ChatInfo(TITLED, 8, 9), None)),
        (AddParticipants(UserId("ann"), (UserId("bob"), UserId("cy"))),
         ChatChanged(ChatInfo(TITLED, 8, 9), SYSTEM)),
        (RemoveParticipant(UserId("ann"), UserId("cy")),
         ChatChanged(ChatInfo(TITLED, 8, 9), SYSTEM)),
    ]  # fmt: skip
    for command, reply in cases:
        assert codec.decode_command(codec.encode_command(command)) == command
        assert codec.decode_value(command, codec.encode_value(reply)) == reply


def test_a_subscription_is_not_forwardable() -> None:
    with pytest.raises(codec.NotForwardable):
        codec.encode_command(Subscribe(UserId("ann")))


@pytest.mark.parametrize(
    "error",
    [
        ChatNotFound("c9"),
        NotAParticipant("eve", "c1"),
        ParticipantNotFound("eve", "c1"),
        NotTheAdmin("bob", "ann"),
        Overloaded(),
        ChatUnavailable(),
        ClusterUnavailable(),
        # A forwarded send whose outcome is unknown must not arrive as "nothing changed" (503).
        OutcomeUnknown(OutcomeUnknown.send_detail("c-1")),
    ],
)
def test_errors_keep_their_class_and_text(error: Exception) -> None:
    decoded = codec.decode_error(codec.encode_error(error))
    assert type(decoded) is type(error)
    assert str(decoded) == str(error)


def test_other_failures_arrive_as_unavailable() -> None:
    lease_lost = codec.decode_error(codec.encode_error(LeaseLost("c1", "taken")))
    assert type(lease_lost) is ChatUnavailable
    assert "c1" in str(lease_lost)
    crash = codec.decode_error(codec.encode_error(KeyError("internal detail")))
    assert type(crash) is ChatUnavailable
    assert "internal detail" not in str(crash)
    unreachable = codec.decode_error(codec.encode_error(ClusterUnavailable()))
    assert isinstance(unreachable, ClusterUnavailable)
    assert unreachable.retry_after_s > 0


def test_chat_elsewhere_crosses_with_its_holder() -> None:
    error = ChatElsewhere("c1", "node-c", 42)
    decoded = codec.decode_error(codec.encode_error(error))
    assert isinstance(decoded, ChatElsewhere)
    assert (str(decoded), decoded.node_id, decoded.token) == (str(error), "node-c", 42)


def test_an_owner_announcement_shares_the_chat_channel_but_is_no_event() -> None:
    announced = codec.OwnerAnnounced("node-c", 10**15, 7)
    data = codec.encode_announcement(announced)
    assert codec.decode_bus_message(data) == codec.BusMessage(announced, Holder("node-c", 10**15))
    holder = Holder("node-d", 42)
    event = codec.encode_bus_event(MessageReceived(MESSAGE), holder)
    assert codec.decode_bus_message(event) == codec.BusMessage(MessageReceived(MESSAGE), holder)
    with pytest.raises(codec.UndecodableMessage):  # an event without its holder
        codec.decode_bus_message(codec.encode_value(("MessageReceived", MessageReceived(MESSAGE))))


def test_garbage_is_a_typed_decoding_error() -> None:
    for data in (b"", b"\xc1", codec.encode_value(("NoSuchEvent", 1)), codec.encode_value(5)):
        with pytest.raises(codec.UndecodableMessage):
            codec.decode_bus_message(data)


def test_a_registration_crosses_without_its_outbox() -> None:
    outbox = SharedOutbox(ChatId("c"), lambda envelope: None)
    command = Subscribe(UserId("ann"), 7, outbox, remote=True)
    assert codec.decode_command(codec.encode_command(command)) == Subscribe(
        UserId("ann"), 7, remote=True
    )


def test_subscription_ids_cross_with_their_kind_and_owner_token() -> None:
    remote = SubscriptionId.remote(3, 10**15)
    command = Unsubscribe(remote)
    assert codec.decode_command(codec.encode_command(command)) == command
    registered = Subscription.open(
        id=remote, user_id=UserId("ann"), replay=(MessageReceived(MESSAGE),),
        resync_required=False, latest_seq=7, latest_pos=9, queue_size=1,
    )  # fmt: skip
    crossed = codec.decode_value(
        Subscribe(UserId("ann"), remote=True), codec.encode_value(registered)
    )
    assert (crossed.id, crossed.replay, crossed.latest_pos) == (remote, registered.replay, 9)
    assert crossed.id != SubscriptionId.local(3)
    assert crossed.id != SubscriptionId.remote(3, 10**15 - 1)


@pytest.mark.parametrize("message", [None, SYSTEM])
def test_a_chat_created_or_members_added_cross_to_the_other_nodes(
    message: Message | None,
) -> None:
    created = codec.ChatCreated("node-a", TITLED, message)
    assert codec.decode_chat_created(codec.encode_chat_created(created)) == created


def test_a_chat_creation_from_a_node_before_members_changed_still_decodes() -> None:
    before = codec._encoder.encode(("node-a", Chat(ChatId("c1"), (UserId("ann"),), WHEN)))
    decoded = codec.decode_chat_created(before)
    assert decoded == codec.ChatCreated("node-a", Chat(ChatId("c1"), (UserId("ann"),), WHEN))
    with pytest.raises(codec.UndecodableMessage):
        codec.decode_chat_created(codec._encoder.encode(["node-a"]))
