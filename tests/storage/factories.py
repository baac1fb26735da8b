"""Values for storage tests: chats and messages at whole-millisecond times."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import Chat, Message, MessageType

#: A fixed start of time, whole milliseconds (what the wire and the store keep).
EPOCH = datetime(2026, 11, 23, 21, 29, 16, 414000, tzinfo=UTC)


def at(ms: int) -> datetime:
    """``ms`` milliseconds after :data:`EPOCH`."""
    return EPOCH + timedelta(milliseconds=ms)


def make_chat(chat_id: str, *users: str, created_ms: int = 0) -> Chat:
    return Chat(ChatId(chat_id), tuple(UserId(u) for u in users), at(created_ms))


_message_numbers = itertools.count(1)


def make_message(
    chat: Chat,
    seq: int,
    user: str,
    *,
    ms: int | None = None,
    client_message_id: str | None = None,
    content: str | None = None,
    pos: int | None = None,
    reply_to: MessageId | None = None,
) -> Message:
    """Message ``seq`` of ``chat``; its log position is ``seq`` unless given (a chat whose
    messages were never changed)."""
    return Message(
        id=MessageId(f"m-{next(_message_numbers)}"),
        chat_id=chat.id,
        seq=seq,
        user_id=UserId(user),
        type=MessageType.TEXT,
        content=f"message {seq}" if content is None else content,
        timestamp=at(seq * 10 if ms is None else ms),
        client_message_id=client_message_id,
        pos=seq if pos is None else pos,
        reply_to=reply_to,
    )
