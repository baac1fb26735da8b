"""Bytes at the cluster edge: events, commands, replies and errors (msgpack through msgspec).

The domain's frozen attrs values cross as they are (msgspec encodes attrs classes by field);
each is tagged with its class name, and only the classes listed here may cross. The web's JSON
wire shapes are not used here: a node that receives an event re-encodes it for its sockets with
``chatactors.domain.events.encode_event``, once per node.
"""

from __future__ import annotations

from typing import Any, TypeVar

import attrs
import msgspec

from chatactors.actors.commands import (
    AddParticipants,
    ChatChanged,
    ChatInfo,
    Command,
    DeleteMessage,
    EditMessage,
    GetChat,
    GetLog,
    GetMessages,
    GetPresence,
    GetReadMarks,
    MarkRead,
    PostMessage,
    React,
    RemoveParticipant,
    SetPresence,
    SetTitle,
    Subscribe,
    Unsubscribe,
)
from chatactors.actors.subscription import Subscription
from chatactors.actors.subscription_id import SubscriptionId
from chatactors.cluster.directory import Holder
from chatactors.cluster.errors import ChatElsewhere, ClusterUnavailable
from chatactors.domain.errors import (
    ChatError,
    ChatNotFound,
    ChatUnavailable,
    Forbidden,
    InvalidInput,
    MessageDeleted,
    MessageNotFound,
    NotAParticipant,
    NotTheAdmin,
    NotTheAuthor,
    OutcomeUnknown,
    Overloaded,
    ParticipantNotFound,
    Unauthenticated,
)
from chatactors.domain.events import (
    ChatEvent,
    ChatRead,
    ChatUpdated,
    LogEvent,
    MessageReceived,
    MessageUpdated,
    PresenceUpdated,
)
from chatactors.domain.ids import ChatId, UserId
from chatactors.domain.models import ChangeKind, Chat, Message, Presence, ReadMark

R = TypeVar("R")

_EVENTS: dict[str, type[ChatEvent]] = {
    cls.__name__: cls
    for cls in (MessageReceived, MessageUpdated, PresenceUpdated, ChatRead, ChatUpdated)
}


@attrs.frozen
class OwnerAnnounced:
    """A control message on a chat's bus channel, never shown to sockets: ``node_id`` now runs
    the chat's actor, under lease ``lease_token``, loaded with store ``owner_token`` (which the
    ids of the registrations it answers carry). Nodes with sockets in the chat re-register
    them there (their registrations at an earlier owner died with it)."""

    node_id: str
    lease_token: int
    owner_token: int


#: What a chat's bus channel carries: its events, and owner announcements.
_BUS: dict[str, type[ChatEvent] | type[OwnerAnnounced]] = {
    **_EVENTS,
    OwnerAnnounced.__name__: OwnerAnnounced,
}


@attrs.frozen
class BusMessage:
    """What arrived on a chat's channel, and the activation that sent it: the chat's holder
    (its node and lease token) while its lease was valid, since an owner publishes only then."""

    payload: ChatEvent | OwnerAnnounced
    holder: Holder


@attrs.frozen
class LogEntry:
    """How a log event crosses in a list (msgpack cannot tell two kinds of object apart):
    a ``MessageReceived`` when ``change`` is None, else a ``MessageUpdated``."""

    message: Message
    pos: int
    change: ChangeKind | None = None

    @classmethod
    def of(cls, event: LogEvent) -> LogEntry:
        if isinstance(event, MessageUpdated):
            return cls(event.message, event.pos, event.change)
        return cls(event.message, event.message.pos)

    def event(self) -> LogEvent:
        if self.change is None:
            return MessageReceived(self.message)
        return MessageUpdated(self.message, self.pos, self.change)


@attrs.frozen
class Registered:
    """What crosses for the answer to ``Subscribe(remote=True)``: a subscription's identity
    and replay; its live stream is the bus, on the subscriber's own node."""

    id: SubscriptionId
    user_id: str | None
    replay: tuple[LogEntry, ...]
    resync_required: bool
    latest_seq: int
    latest_pos: int = 0


#: The commands that can be forwarded, each with the type of its answer. ``Subscribe`` only
#: with ``remote=True`` (a registration: the live stream is the bus on the subscriber's node).
REPLY_TYPES: dict[type[Command[Any]], Any] = {
    Subscribe: Registered,
    Unsubscribe: None,
    PostMessage: Message,
    SetTitle: ChatChanged,
    AddParticipants: ChatChanged,
    RemoveParticipant: ChatChanged,
    EditMessage: Message,
    DeleteMessage: Message,
    React: Message,
    GetLog: list[LogEntry],
    SetPresence: Presence,
    MarkRead: ReadMark,
    GetMessages: list[Message],
    GetPresence: list[Presence],
    GetReadMarks: list[ReadMark],
    GetChat: ChatInfo,
}


@attrs.frozen
class _Registration:
    """How ``Subscribe(remote=True)`` crosses: without its outbox, which stays on its node."""

    user_id: UserId | None
    after_seq: int | None
    after_pos: int | None = None


_COMMANDS: dict[str, Any] = {cls.__name__: cls for cls in REPLY_TYPES}
_COMMANDS[Subscribe.__name__] = _Registration
#: Errors rebuilt with the same class and text on the caller's node; anything else (a crash on
#: the owner) arrives as ``ChatUnavailable``, as a local crash does.
_ERRORS: dict[str, type[ChatError]] = {
    cls.__name__: cls
    for cls in (
        ChatNotFound,
        NotAParticipant,
        MessageNotFound,
        NotTheAuthor,
        ParticipantNotFound,
        NotTheAdmin,
        MessageDeleted,
        InvalidInput,
        Overloaded,
        ChatUnavailable,
        OutcomeUnknown,
        ClusterUnavailable,
        Unauthenticated,
        Forbidden,
    )
}

_encoder = msgspec.msgpack.Encoder()
_tagged = msgspec.msgpack.Decoder(tuple[str, msgspec.Raw])


class NotForwardable(TypeError):
    """A command that cannot cross nodes (a programming error, not a client's)."""


class UndecodableMessage(ValueError):
    """Bytes from Redis that are not what this version of chatactors sends."""


def _decode(data: bytes | msgspec.Raw, kind: Any) -> Any:
    try:
        return msgspec.msgpack.decode(data, type=kind)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise UndecodableMessage(str(error)) from error


def _untag(data: bytes, table: dict[str, Any]) -> Any:
    try:
        name, body = _tagged.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise UndecodableMessage(str(error)) from error
    kind = table.get(name)
    if kind is None:
        raise UndecodableMessage(f"unknown kind {name!r}")
    return _decode(body, kind)


#: A bus message: its kind, its body, and the node and lease token of the activation that sent it.
_bus_message = msgspec.msgpack.Decoder(tuple[str, msgspec.Raw, str, int])


def encode_bus_event(event: ChatEvent, holder: Holder) -> bytes:
    """An event as the chat's holder publishes it on the chat's channel."""
    return _encoder.encode((type(event).__name__, event, holder.node_id, holder.token))


def encode_announcement(announcement: OwnerAnnounced) -> bytes:
    return _encoder.encode((OwnerAnnounced.__name__, announcement, announcement.node_id,
                            announcement.lease_token))  # fmt: skip


def decode_bus_message(data: bytes) -> BusMessage:
    """What arrived on a chat's channel: an event, or an owner's announcement."""
    try:
        name, body, node_id, lease_token = _bus_message.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise UndecodableMessage(str(error)) from error
    kind = _BUS.get(name)
    if kind is None:
        raise UndecodableMessage(f"unknown kind {name!r}")
    return BusMessage(_decode(body, kind), Holder(node_id, lease_token))


def encode_command(command: Command[Any]) -> bytes:
    if type(command) not in REPLY_TYPES or (isinstance(command, Subscribe) and not command.remote):
        raise NotForwardable(f"{type(command).__name__} cannot be forwarded to another node")
    if isinstance(command, Subscribe):
        registration = _Registration(command.user_id, command.after_seq, command.after_pos)
        return _encoder.encode((Subscribe.__name__, registration))
    return _encoder.encode((type(command).__name__, command))


def decode_command(data: bytes) -> Command[Any]:
    command: Any = _untag(data, _COMMANDS)
    if isinstance(command, _Registration):
        return Subscribe(
            command.user_id, command.after_seq, remote=True, after_pos=command.after_pos
        )
    decoded: Command[Any] = command
    return decoded


def encode_value(value: object) -> bytes:
    if isinstance(value, Subscription):
        value = Registered(value.id, value.user_id, tuple(map(LogEntry.of, value.replay)),
                           value.resync_required, value.latest_seq, value.latest_pos)  # fmt: skip
    elif (
        isinstance(value, list) and value and isinstance(value[0], MessageReceived | MessageUpdated)
    ):
        value = [LogEntry.of(event) for event in value]  # a GetLog's answer
    return _encoder.encode(value)


def decode_value(command: Command[R], data: bytes | msgspec.Raw) -> R:
    """The answer to ``command``, typed by the command's class (a ``Subscribe``'s is a
    ``Subscription`` without a stream: its id, replay and latest seq)."""
    value: Any = _decode(data, REPLY_TYPES[type(command)])
    if isinstance(value, Registered):
        value = Subscription.open(
            id=value.id, user_id=UserId(value.user_id) if value.user_id else None,
            replay=tuple(entry.event() for entry in value.replay),
            resync_required=value.resync_required, latest_seq=value.latest_seq,
            latest_pos=value.latest_pos, queue_size=1,
        )  # fmt: skip
    elif isinstance(command, GetLog):
        value = [entry.event() for entry in value]
    result: R = value
    return result


def encode_error(error: BaseException) -> bytes:
    if isinstance(error, ChatElsewhere):
        # With the holder, so the sender can send the command on (it did not run here).
        return _encoder.encode((ChatElsewhere.__name__, str(error), error.node_id, error.token))
    if isinstance(error, ChatError) and type(error).__name__ in _ERRORS:
        return _encoder.encode((type(error).__name__, str(error)))
    if isinstance(error, ChatUnavailable):  # LeaseLost and other kinds of unavailable
        return _encoder.encode((ChatUnavailable.__name__, str(error)))
    return _encoder.encode((ChatUnavailable.__name__, str(ChatUnavailable())))


def decode_error(data: bytes | msgspec.Raw) -> ChatError:
    fields = _decode(data, list[str | int])
    if len(fields) < 2 or not all(isinstance(field, str) for field in fields[:2]):
        raise UndecodableMessage(f"not an error: {fields!r}")
    name, detail = str(fields[0]), str(fields[1])
    if name == ChatElsewhere.__name__ and len(fields) == 4:
        node_id, token = fields[2:]
        if isinstance(node_id, str) and isinstance(token, int):
            elsewhere = ChatElsewhere.__new__(ChatElsewhere)
            Exception.__init__(elsewhere, detail)
            elsewhere.node_id, elsewhere.token = node_id, token
            return elsewhere
    cls = _ERRORS.get(name, ChatUnavailable)
    # Same class, same text: built without its constructor, whose arguments (chat and user
    # ids) did not cross; the message already contains them.
    error = cls.__new__(cls)
    Exception.__init__(error, detail)
    if isinstance(error, ClusterUnavailable):
        error.retry_after_s = ClusterUnavailable().retry_after_s
    return error


@attrs.frozen
class ForwardedCommand:
    """A command on its way to the chat's node; the answer goes to ``reply_to``'s channel."""

    request_id: int
    reply_to: str
    chat_id: ChatId
    command: Command[Any]


@attrs.frozen
class ForwardedAnswer:
    request_id: int
    ok: bool
    #: ``encode_value`` of the answer if ``ok``, else ``encode_error`` of the failure.
    payload: bytes


@attrs.frozen
class ChatCreated:
    """A chat just stored by ``origin`` (a node id), for every node's user sockets; or, with
    ``message`` (the system message that added them), members just added to a chat."""

    origin: str
    chat: Chat
    message: Message | None = None


_created = msgspec.msgpack.Decoder(list[msgspec.Raw])


def encode_chat_created(created: ChatCreated) -> bytes:
    if created.message is None:
        return _encoder.encode((created.origin, created.chat))
    return _encoder.encode((created.origin, created.chat, created.message))


def decode_chat_created(data: bytes) -> ChatCreated:
    try:
        parts = _created.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise UndecodableMessage(str(error)) from error
    if len(parts) not in (2, 3):
        raise UndecodableMessage(f"a chat creation has 2 or 3 parts, not {len(parts)}")
    message = _decode(parts[2], Message) if len(parts) == 3 else None
    return ChatCreated(_decode(parts[0], str), _decode(parts[1], Chat), message)


_forwarded = msgspec.msgpack.Decoder(tuple[int, str, str, bytes])
_answer = msgspec.msgpack.Decoder(tuple[int, bool, bytes])


def encode_forwarded(forwarded: ForwardedCommand) -> bytes:
    command = encode_command(forwarded.command)
    return _encoder.encode((forwarded.request_id, forwarded.reply_to, forwarded.chat_id, command))


def decode_forwarded(data: bytes) -> ForwardedCommand:
    try:
        request_id, reply_to, chat_id, command = _forwarded.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise UndecodableMessage(str(error)) from error
    return ForwardedCommand(request_id, reply_to, ChatId(chat_id), decode_command(command))


def encode_answer(answer: ForwardedAnswer) -> bytes:
    return _encoder.encode((answer.request_id, answer.ok, answer.payload))


def decode_answer(data: bytes) -> ForwardedAnswer:
    try:
        return ForwardedAnswer(*_answer.decode(data))
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise UndecodableMessage(str(error)) from error
