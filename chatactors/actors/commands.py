"""The closed set of commands a chat actor handles, each typed by the value it answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

import attrs

from chatactors.domain.ids import UserId
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


@attrs.frozen
class PostMessage(Command[Message]):
    user_id: UserId
    type: MessageType
    content: str
    client_message_id: str | None = None


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


@attrs.frozen
class Unsubscribe(Command[None]):
    subscription_id: int


AnyCommand = (
    PostMessage
    | SetPresence
    | MarkRead
    | GetMessages
    | GetPresence
    | GetReadMarks
    | GetChat
    | Subscribe
    | Unsubscribe
)
