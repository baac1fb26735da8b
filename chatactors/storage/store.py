"""The ChatStore interface: what actors need from durability, whatever the engine.

Every write method returns only once the write is durable (for SQLite: committed), so an
acknowledgement sent after it can be trusted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

import attrs

from chatactors.domain.ids import ChatId, UserId
from chatactors.domain.models import Chat, ChatSummary, Message, ReadMark


@attrs.frozen
class LoadedChat:
    """What an actor needs to come back to life: the chat and its recent past."""

    chat: Chat
    #: The newest messages, oldest first, at most the requested window.
    recent: tuple[Message, ...]
    last_seq: int
    read_marks: Mapping[UserId, ReadMark]
    last_seen: Mapping[UserId, datetime]
    #: (user, client_message_id) -> message, for the newest messages that carried one.
    client_ids: Mapping[tuple[UserId, str], Message]


@attrs.frozen
class MessagePage:
    """Which messages of a chat to read: at most ``limit``, oldest first."""

    limit: int
    before_seq: int | None = None
    after_seq: int | None = None


class ChatStore(Protocol):
    async def create_chat(self, chat: Chat) -> None: ...

    async def load_chat(
        self, chat_id: ChatId, *, window: int, idempotency_window: int
    ) -> LoadedChat | None: ...

    async def append_message(self, message: Message) -> None: ...

    async def set_read_mark(self, chat_id: ChatId, mark: ReadMark) -> None: ...

    async def set_last_seen(self, chat_id: ChatId, user_id: UserId, moment: datetime) -> None: ...

    async def read_messages(self, chat_id: ChatId, page: MessagePage) -> list[Message]: ...

    async def list_chats(self, *, limit: int) -> list[Chat]: ...

    async def list_user_chats(self, user_id: UserId, *, limit: int) -> list[ChatSummary]: ...

    async def check_ready(self) -> None:
        """Raise if the store cannot serve requests."""
        ...


def select_page(messages: list[Message], page: MessagePage) -> list[Message]:
    """Apply a page to messages sorted by seq: the newest ``limit`` that match, oldest first.

    With only ``after_seq`` the page runs forward from it (the oldest ``limit`` after it), which is
    what a client catching up wants.
    """
    chosen = [
        m
        for m in messages
        if (page.before_seq is None or m.seq < page.before_seq)
        and (page.after_seq is None or m.seq > page.after_seq)
    ]
    if page.after_seq is not None and page.before_seq is None:
        return chosen[: page.limit]
    return chosen[-page.limit :] if page.limit else []
