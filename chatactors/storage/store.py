"""The ChatStore interface: what actors need from durability, whatever the engine.

Every write method returns only once the write is durable (committed), so an acknowledgement
sent after it can be trusted.

Fencing: loading a chat claims it. The store raises the chat's *owner token* by one and hands
it back with the chat; the actor passes it with each of its writes, and a write whose token is
older than the chat's stored one is refused with :class:`StaleOwner` and changes nothing. So
once a chat has been activated again (say, on another node), its previous actor can no longer
write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Protocol

import attrs

from chatactors.domain.errors import StoreUnavailable
from chatactors.domain.events import LogEvent, MessageReceived, MessageUpdated
from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import ChangeKind, Chat, ChatSummary, Message, ReadMark
from chatactors.storage.search import SearchPage, SearchRequest

__all__ = ["StoreUnavailable"]  # re-exported: what every engine raises when it cannot serve


class StaleOwner(StoreUnavailable):
    """A write carried an owner token older than the chat's: another actor owns the chat now.

    The store refused the write, which changed nothing (so, like any refused write: 503).
    """

    def __init__(self, chat_id: str, token: int) -> None:
        super().__init__(f"Chat {chat_id!r} has a newer owner than token {token}; retry")
        self.chat_id = chat_id
        self.token = token


class StoreNotAnswering(StoreUnavailable):
    """The store did not answer a call in time (a paused or hung server, a stalled disk), or
    is still busy with calls given up on earlier. Nothing was sent: 503."""

    def __init__(self, detail: str = "The store is not answering; retry shortly") -> None:
        super().__init__(detail)


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
    #: The token this load claimed the chat with: pass it with every write (``owner=``).
    owner_token: int = 0
    #: The position of the chat's newest log entry (a message or a change; ``last_seq``
    #: when nothing was ever changed).
    last_pos: int = 0


@attrs.frozen
class MessagePage:
    """Which messages of a chat to read: at most ``limit``, oldest first."""

    limit: int
    before_seq: int | None = None
    after_seq: int | None = None


@attrs.frozen
class LogPage:
    """Which entries of a chat's log to read: at most ``limit`` after ``after_pos`` (and up
    to ``through_pos``, if given), in log order."""

    after_pos: int
    limit: int
    through_pos: int | None = None


@attrs.frozen
class MessageChange:
    """A change to a stored message: its new state, as the log entry at ``pos``."""

    message: Message
    pos: int
    change: ChangeKind
    #: The chat's newest message seq when the change was made. Every position is a message or
    #: a change, so this locates messages by position (see :func:`seq_at`).
    last_seq: int


@attrs.frozen
class ChatUpdate:
    """A change to a chat's title or members, written as one: the chat's new state (its title,
    its participants in order), the system message that records the change (the chat's next
    log entry, appended like any message), and the read marks of the members it added."""

    chat: Chat
    message: Message
    read_marks: tuple[ReadMark, ...] = ()


class ChatStore(Protocol):
    """Writes raise :class:`StaleOwner` when ``owner`` is older than the chat's token,
    :class:`StoreUnavailable` when the store cannot be reached (nothing changed), and
    ``OutcomeUnknown`` when the write was sent but its commit never confirmed (it may have
    taken effect). Every call answers within the store's timeout."""

    async def create_chat(self, chat: Chat) -> None: ...

    async def load_chat(
        self, chat_id: ChatId, *, window: int, idempotency_window: int
    ) -> LoadedChat | None:
        """The chat and its recent past, claimed with a new owner token (None if unknown)."""
        ...

    async def append_message(self, message: Message, *, owner: int) -> None:
        """Store a new message (``message.pos`` is its log position)."""
        ...

    async def change_message(self, change: MessageChange, *, owner: int) -> None:
        """Replace a stored message's state (its content, edit time, deletion, reactions) and
        log the change. A deleted message's old content is overwritten, not only hidden."""
        ...

    async def update_chat(self, update: ChatUpdate, *, owner: int) -> None:
        """Store the chat's new title and participants (the ones gone deleted, the new ones
        added: ``list_user_chats`` follows at once) with the system message and read marks."""
        ...

    async def find_message(self, chat_id: ChatId, message_id: MessageId) -> Message | None:
        """The message ``message_id`` of the chat, in its current state (None if unknown)."""
        ...

    async def read_log(self, chat_id: ChatId, page: LogPage) -> list[LogEvent]:
        """The chat's log entries in ``page``, in order: each message as ``MessageReceived``,
        each change as ``MessageUpdated``, both with the message's current state."""
        ...

    async def set_read_mark(self, chat_id: ChatId, mark: ReadMark, *, owner: int) -> None: ...

    async def set_last_seen(
        self, chat_id: ChatId, user_id: UserId, moment: datetime, *, owner: int
    ) -> None: ...

    async def read_messages(self, chat_id: ChatId, page: MessagePage) -> list[Message]: ...

    async def list_chats(self, *, limit: int) -> list[Chat]: ...

    async def list_user_chats(self, user_id: UserId, *, limit: int) -> list[ChatSummary]: ...

    async def search(self, request: SearchRequest) -> SearchPage:
        """The messages that match ``request`` (storage/search.py says how, for every engine)."""
        ...

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


def merge_log(
    messages: Iterable[Message],
    changes: Iterable[tuple[int, int, str]],
    states: Mapping[int, Message],
    page: LogPage,
) -> list[LogEvent]:
    """The log entries of ``page`` from the messages after ``page.after_pos`` (oldest first)
    and the changes after it (``(pos, seq, kind)``), each change with the current state of
    its message (``states``: by seq)."""
    entries: list[LogEvent] = [MessageReceived(m) for m in messages]
    entries.extend(
        MessageUpdated(states[seq], pos, ChangeKind(kind))
        for pos, seq, kind in changes
        if seq in states
    )
    entries.sort(key=_pos)
    through = page.through_pos
    if through is not None:
        entries = [e for e in entries if _pos(e) <= through]
    return entries[: page.limit]


def _pos(entry: LogEvent) -> int:
    return entry.pos if isinstance(entry, MessageUpdated) else entry.message.pos
