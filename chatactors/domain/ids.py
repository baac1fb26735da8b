"""Identifiers of chats, users and messages, and how new ones are made."""

from __future__ import annotations

import uuid
from typing import NewType

ChatId = NewType("ChatId", str)
UserId = NewType("UserId", str)
MessageId = NewType("MessageId", str)

#: The bot that every chat has, under the reference's name.
BOT_USER = UserId("bot_user")


def new_chat_id() -> ChatId:
    return ChatId(str(uuid.uuid4()))


def new_message_id() -> MessageId:
    return MessageId(str(uuid.uuid4()))
