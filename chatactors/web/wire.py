"""The wire shapes of requests and answers: the types requests are decoded into, and the types
the OpenAPI document (web/openapi.py) is made from, so that the two cannot differ.

Requests are decoded by msgspec straight into these frozen Structs (web/request.py); unknown
keys are ignored, as the reference does. A constrained value names its kind
(web/value_schemas.py), whose rule the domain checks. Answers are made by web/wire_out.py
(encoded once, where it counts); a message's JSON is encoded from :class:`MessageOut` itself,
and the tests hold the others to their types here (tests/web/test_wire_out.py, and
schemathesis against a served app: tests/hardening/test_openapi_agreement.py).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
import orjson
from msgspec import UNSET, UnsetType
from quart import Response

from chatactors.domain.models import ChatChangeKind, ChatKind, MessageType, PresenceStatus
from chatactors.web.value_schemas import (
    ClientMessageIdText,
    ContentText,
    MessageIdText,
    NewMembers,
    PageLimit,
    Participants,
    Seq,
    TitleText,
    UserIdText,
)

# -- requests ------------------------------------------------------------------------------


class CreateChatBody(msgspec.Struct, frozen=True):
    participants: Participants
    #: The chat's name (optional); given, the chat is a group.
    title: TitleText | None = None
    #: A chat of two people that may gain members later (without it, two people make a
    #: one-to-one chat).
    group: bool = False
    #: Who creates it (access control off; on, the token's user): one of ``participants``;
    #: by default the first of them.
    user_id: UserIdText | None = None


class UpdateChatBody(msgspec.Struct, frozen=True):
    user_id: UserIdText
    #: The new title; null clears it.
    title: TitleText | None


class AddParticipantsBody(msgspec.Struct, frozen=True):
    user_id: UserIdText
    participants: NewMembers


class PostMessageBody(msgspec.Struct, frozen=True):
    user_id: UserIdText
    type: MessageType
    content: ContentText
    client_message_id: ClientMessageIdText | None = None
    #: The id of the message of this chat that this one answers.
    reply_to: MessageIdText | None = None


class EditMessageBody(msgspec.Struct, frozen=True):
    user_id: UserIdText
    content: ContentText


class ReactionBody(msgspec.Struct, frozen=True):
    user_id: UserIdText


class PresenceBody(msgspec.Struct, frozen=True):
    user_id: UserIdText
    status: PresenceStatus


class ReadBody(msgspec.Struct, frozen=True):
    user_id: UserIdText


class UserQuery(msgspec.Struct, frozen=True):
    """``?user_id=``: who acts or reads (with access control, the token's user when left out)."""

    user_id: UserIdText | None = None


class MessagesQuery(msgspec.Struct, frozen=True):
    limit: PageLimit | None = None
    before_seq: Seq | None = None
    after_seq: Seq | None = None
    #: Who reads (access control off): a user outside the chat gets 403.
    user_id: UserIdText | None = None


class ChatsQuery(msgspec.Struct, frozen=True):
    """``?user_id=U``: U's chats, newest activity first, with their last message and unread
    count (with access control, the token's user's chats)."""

    user_id: UserIdText | None = None


# -- answers -------------------------------------------------------------------------------


class ChatChangeOut(msgspec.Struct, frozen=True):
    """What a change to a chat did: ``by`` who made it; ``users`` who was added or removed,
    or left; ``title`` the new title (``title_changed``; null: cleared)."""

    action: ChatChangeKind
    by: str
    users: tuple[str, ...]
    title: str | None


class MessageOut(msgspec.Struct, frozen=True, kw_only=True):
    """A message in its current state (web/wire_out.py encodes every message with this type)."""

    id: str
    user_id: str
    type: MessageType
    content: str
    timestamp: str
    #: 1, 2, 3, ... within the chat.
    seq: int
    #: Present when the sender gave one.
    client_message_id: str | UnsetType = UNSET
    edited_at: str | None
    deleted: bool
    #: emoji -> the users who reacted with it, in the order they did.
    reactions: dict[str, tuple[str, ...]]
    reply_to: str | None
    #: The participants the text mentions with ``@`` (docs/API.md, "Mentions").
    mentions: tuple[str, ...]
    #: Only on a system message: the change to the chat it records.
    system: ChatChangeOut | UnsetType = UNSET


class CreatedChatOut(msgspec.Struct, frozen=True):
    """The new chat, with its participants as sent (without bot_user)."""

    chat_id: str
    participants: list[str]
    title: str | None
    kind: ChatKind
    created_by: str | None
    admin: str | None


class ChatOut(msgspec.Struct, frozen=True):
    """A chat. ``kind``: ``direct`` (one-to-one: gains no members) or ``group``; ``admin``:
    who may remove others (null once no human is left)."""

    chat_id: str
    participants: list[str]
    created_at: str
    title: str | None
    kind: ChatKind
    created_by: str | None
    admin: str | None


class ChatListItemOut(ChatOut, frozen=True):
    """A chat in ``GET /chats``; the last four keys are present with ``?user_id=``."""

    last_message: MessageOut | UnsetType | None = UNSET
    #: Messages from others after the user's read mark.
    unread_count: int | UnsetType = UNSET
    last_activity: str | UnsetType = UNSET
    #: Unread messages that mention the user.
    unread_mentions: int | UnsetType = UNSET


class ChatInfoOut(ChatOut, frozen=True):
    """A chat with its latest message number and log position."""

    last_seq: int
    last_pos: int


class ChatChangedOut(msgspec.Struct, frozen=True):
    """``chat``: the chat after the change; ``message``: the system message that records it,
    null when nothing changed (a title it had already, members who were in already)."""

    status: Literal["chat_updated", "participants_added", "participant_removed"]
    chat: ChatInfoOut
    message: MessageOut | None


class MessageSentOut(msgspec.Struct, frozen=True):
    status: Literal["message_sent"]
    message: MessageOut


class MessageChangedOut(msgspec.Struct, frozen=True):
    """``message``: the message in its new state."""

    status: Literal["message_updated", "message_deleted", "reaction_added", "reaction_removed"]
    message: MessageOut


class PresenceSetOut(msgspec.Struct, frozen=True):
    chat_id: str
    user_id: str
    status: PresenceStatus


class PresenceOut(msgspec.Struct, frozen=True):
    user_id: str
    status: PresenceStatus
    last_seen: str


class ReadOut(msgspec.Struct, frozen=True):
    chat_id: str
    user_id: str
    #: The chat's newest message when the mark was set (null: it had none).
    last_read_message_id: str | None
    last_read_seq: int


class ReadReceiptsOut(msgspec.Struct, frozen=True):
    chat_id: str
    #: user -> the message they have read up to (null: none).
    read_receipts: dict[str, str | None]
    #: user -> the seq they have read up to (0: none).
    read_seqs: dict[str, int]


class ErrorOut(msgspec.Struct, frozen=True):
    """Why the request was refused; nothing changed (except where a 504 says it may have)."""

    detail: str


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(value), status=status, headers=headers, content_type="application/json"
    )
