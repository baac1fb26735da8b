"""New ids, random (uuid4): made by the shells around the pure chat core, never by the core.

The registry names new chats; each chat's actor hands its ``ChatState`` :func:`new_message_id`
as its source of message ids (tests may hand it a counter instead).
"""

from __future__ import annotations

import uuid

from chatactors.domain.ids import ChatId, MessageId


def new_chat_id() -> ChatId:
    return ChatId(str(uuid.uuid4()))


def new_message_id() -> MessageId:
    return MessageId(str(uuid.uuid4()))
