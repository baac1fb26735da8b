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


@attrs.frozen
class ChatsQuery:
    user_id: str | None = None


# -- responses (for the OpenAPI document) ----------------------------------------------------


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


@attrs.frozen
class CreatedChatOut:
    chat_id: str
    participants: list[str]


@attrs.frozen
class ChatListItemOut:
    """A chat in ``GET /chats``; the last three keys are present with ``?user_id=``."""

    chat_id: str
    participants: list[str]
    created_at: str
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
    last_seq: int
    last_pos: int


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
