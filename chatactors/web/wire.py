"""The wire shapes of requests and responses, and fast JSON responses.

Request bodies are frozen attrs classes that quart-schema validates with msgspec (unknown keys
are ignored, as the reference does); response classes exist to describe the answers in the
OpenAPI document. The answers themselves are built by ``wire_out``
and encoded with orjson.
"""

from __future__ import annotations

from typing import Any

import attrs
import orjson
from quart import Response

from chatactors.domain.models import MessageType, PresenceStatus

# -- requests ------------------------------------------------------------------------------


@attrs.frozen
class CreateChatBody:
    participants: list[str]
    #: The chat's name (optional); given, the chat is a group.
    title: str | None = None
    #: A chat of two people that may gain members later (without it, two people make a
    #: one-to-one chat).
    group: bool = False
    #: Who creates it (access control off; on, the token's user): one of ``participants``;
    #: by default the first of them.
    user_id: str | None = None


@attrs.frozen
class UpdateChatBody:
    user_id: str
    #: The new title; null clears it.
    title: str | None


@attrs.frozen
class AddParticipantsBody:
    user_id: str
    participants: list[str]


@attrs.frozen
class PostMessageBody:
    user_id: str
    type: MessageType
    content: str
    client_message_id: str | None = None
    #: The id of the message of this chat that this one answers.
    reply_to: str | None = None


@attrs.frozen
class EditMessageBody:
    user_id: str
    content: str


@attrs.frozen
class ReactionBody:
    user_id: str


@attrs.frozen
class UserQuery:
    """``?user_id=``: who acts (with access control, the token's user when left out)."""

    user_id: str | None = None


@attrs.frozen
class PresenceBody:
    user_id: str
    status: PresenceStatus


@attrs.frozen
class ReadBody:
    user_id: str


@attrs.frozen
class MessagesQuery:
    limit: int | None = None
    before_seq: int | None = None
    after_seq: int | None = None
    #: Who reads (access control off): a user outside the chat gets 403.
    user_id: str | None = None


@attrs.frozen
class ChatsQuery:
    user_id: str | None = None


# -- responses (for the OpenAPI document) ----------------------------------------------------


@attrs.frozen
class ChatChangeOut:
    """What a change to a chat did: ``action`` is ``title_changed``, ``members_added``,
    ``member_removed`` or ``member_left``; ``by`` who made it; ``users`` who was added or
    removed, or left; ``title`` the new title (``title_changed``; null: cleared)."""

    action: str
    by: str
    users: list[str]
    title: str | None


@attrs.frozen
class MessageOut:
    id: str
    user_id: str
    type: MessageType
    content: str
    timestamp: str
    seq: int
    edited_at: str | None
    deleted: bool
    #: emoji -> the users who reacted with it, in the order they did.
    reactions: dict[str, list[str]]
    reply_to: str | None
    #: The participants the text mentions with ``@`` (docs/API.md, "Mentions").
    mentions: list[str]
    client_message_id: str | None = None
    #: Only on a system message: the change to the chat it records.
    system: ChatChangeOut | None = None


@attrs.frozen
class CreatedChatOut:
    chat_id: str
    participants: list[str]
    title: str | None
    kind: str
    created_by: str | None
    admin: str | None


@attrs.frozen
class ChatListItemOut:
    """A chat in ``GET /chats``; the last three keys are present with ``?user_id=``.
    ``kind``: ``direct`` (one-to-one: gains no members) or ``group``; ``admin``: who may
    remove others (null once no human is left)."""

    chat_id: str
    participants: list[str]
    created_at: str
    title: str | None
    kind: str
    created_by: str | None
    admin: str | None
    last_message: MessageOut | None = None
    unread_count: int = 0
    last_activity: str | None = None
    #: Unread messages that mention the user (with ``?user_id=``).
    unread_mentions: int = 0


@attrs.frozen
class ChatInfoOut:
    chat_id: str
    participants: list[str]
    created_at: str
    title: str | None
    kind: str
    created_by: str | None
    admin: str | None
    last_seq: int
    last_pos: int


@attrs.frozen
class ChatChangedOut:
    """``status``: ``chat_updated``, ``participants_added`` or ``participant_removed``;
    ``chat``: the chat after the change; ``message``: the system message that records it,
    null when nothing changed (a title it had already, members who were in already)."""

    status: str
    chat: ChatInfoOut
    message: MessageOut | None


@attrs.frozen
class MessageSentOut:
    status: str
    message: MessageOut


@attrs.frozen
class MessageChangedOut:
    """``status``: ``message_updated``, ``message_deleted``, ``reaction_added`` or
    ``reaction_removed``; ``message``: the message in its new state."""

    status: str
    message: MessageOut


@attrs.frozen
class PresenceSetOut:
    chat_id: str
    user_id: str
    status: PresenceStatus


@attrs.frozen
class PresenceOut:
    user_id: str
    status: PresenceStatus
    last_seen: str


@attrs.frozen
class ReadOut:
    chat_id: str
    user_id: str
    last_read_message_id: str | None
    last_read_seq: int


@attrs.frozen
class ReadReceiptsOut:
    chat_id: str
    read_receipts: dict[str, str | None]
    read_seqs: dict[str, int]


@attrs.frozen
class ErrorOut:
    detail: str


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(value), status=status, headers=headers, content_type="application/json"
    )
