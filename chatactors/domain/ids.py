"""Identifiers of chats, users and messages (random new ones: domain/random_ids.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NewType

ChatId = NewType("ChatId", str)
UserId = NewType("UserId", str)
MessageId = NewType("MessageId", str)

#: The bot that every chat has, under the reference's name.
BOT_USER = UserId("bot_user")

#: Makes a message id never used before (``random_ids.new_message_id``, or a counter in tests).
MessageIdSource = Callable[[], MessageId]
