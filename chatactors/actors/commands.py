"""The closed set of commands a chat actor handles, each typed by the value it answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

import attrs

from chatactors.actors.subscription_id import SubscriptionId
from chatactors.domain.events import LogEvent
from chatactors.domain.ids import MessageId, UserId
from chatactors.domain.models import Chat, Message, MessageType, Presence, PresenceStatus, ReadMark
from chatactors.storage.store import MessagePage

if TYPE_CHECKING:
    # Only the phantom type of Subscribe: commands stay free of Trio (ChatState uses them).
    from chatactors.actors.subscription import SharedOutbox, Subscription  # noqa: F401

R = TypeVar("R")


class Command(Generic[R]):
    """Base of every command; ``R`` is what the actor answers (a phantom type for the handle)."""

    __slots__ = ()


@attrs.frozen
class ChatInfo:
    chat: Chat
    last_seq: int
    last_pos: int = 0


@attrs.frozen
class ChatChanged:
    """The answer to a change to a chat: the chat after it, and the system message that
    records it in the log (None: nothing changed, so nothing was logged)."""

    info: ChatInfo
    message: Message | None = None


@attrs.frozen
class SetTitle(Command[ChatChanged]):
    """Name the chat (any participant); None clears the title."""

    user_id: UserId
    title: str | None


@attrs.frozen
class AddParticipants(Command[ChatChanged]):
    """Add ``users`` (any participant adds; those already in are left as they are)."""

    user_id: UserId
    users: tuple[UserId, ...]


@attrs.frozen
class RemoveParticipant(Command[ChatChanged]):
    """Take ``member`` out of the chat: ``user_id`` leaving (``member == user_id``), or the
    chat's admin removing someone."""

    user_id: UserId
    member: UserId


@attrs.frozen
class PostMessage(Command[Message]):
    user_id: UserId
    type: MessageType
    content: str
    client_message_id: str | None = None
    #: The message of this chat that it answers.
    reply_to: MessageId | None = None


@attrs.frozen
class EditMessage(Command[Message]):
    """Replace a text message's content (its author only); answers its new state."""

    user_id: UserId
    message_id: MessageId
    content: str


@attrs.frozen
class DeleteMessage(Command[Message]):
    """Delete a message (its author only): its content and reactions are gone for good."""

    user_id: UserId
    message_id: MessageId


@attrs.frozen
class React(Command[Message]):
    """Add (``add``) or remove ``user_id``'s reaction ``emoji`` on a message (any participant);
    both are idempotent. Answers the message's state."""

    user_id: UserId
    message_id: MessageId
    emoji: str
    add: bool = True


@attrs.frozen
class GetLog(Command[list[LogEvent]]):
    """The chat's log entries after ``after_pos`` through ``through_pos``, at most ``limit``."""

    after_pos: int
    through_pos: int
    limit: int
    viewer: UserId | None = None


@attrs.frozen
class SetPresence(Command[Presence]):
    user_id: UserId
    status: PresenceStatus


@attrs.frozen
class MarkRead(Command[ReadMark]):
    user_id: UserId


@attrs.frozen
class GetMessages(Command[list[Message]]):
    page: MessagePage
    #: With access control on, who asks (must be a participant); None when it is off.
    viewer: UserId | None = None


@attrs.frozen
class GetPresence(Command[list[Presence]]):
    viewer: UserId | None = None


@attrs.frozen
class GetReadMarks(Command[list[ReadMark]]):
    viewer: UserId | None = None


@attrs.frozen
class GetChat(Command[ChatInfo]):
    viewer: UserId | None = None


@attrs.frozen
class Subscribe(Command["Subscription"]):
    """Register a subscriber; the answer carries the replay and the live stream atomically."""

    user_id: UserId | None = None
    after_seq: int | None = None
    #: A user's socket shares one outbox between its chats; None: a channel of its own.
    outbox: SharedOutbox | None = None
    #: Cluster mode: the subscriber listens on the bus in its own process; the actor only
    #: registers it (presence, keeping the chat alive) and answers its replay.
    remote: bool = False
    #: Resume by log position instead (messages and changes after it); wins over after_seq.
    after_pos: int | None = None


@attrs.frozen
class Unsubscribe(Command[None]):
    subscription_id: SubscriptionId


AnyCommand = (
    PostMessage
    | SetTitle
    | AddParticipants
    | RemoveParticipant
    | EditMessage
    | DeleteMessage
    | React
    | GetLog
    | SetPresence
    | MarkRead
    | GetMessages
    | GetPresence
    | GetReadMarks
    | GetChat
    | Subscribe
    | Unsubscribe
)
