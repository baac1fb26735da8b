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

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import attrs

from chatactors.domain.clock import from_epoch_ms
from chatactors.domain.errors import StoreUnavailable
from chatactors.domain.events import LogEvent, MessageReceived, MessageUpdated
from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import (
    ChangeKind,
    Chat,
    ChatChange,
    ChatChangeKind,
    ChatKind,
    ChatSummary,
    Message,
    MessageType,
    Reaction,
    ReadMark,
)
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


#: The columns a new message row is inserted with in both SQL stores (its edit time, deletion
#: and reactions start empty).
MESSAGE_COLUMNS = (
    "id, chat_id, seq, user_id, type, content, created_ms, client_message_id, pos, reply_to,"
    " mentions, system"
)
#: What a message row is read back as, in the order :func:`message_from_row` reads it. A row
#: stored before the log existed has no ``pos``: it was ``seq`` (nothing had changed then).
_SELECTED = (
    "id", "chat_id", "seq", "user_id", "type", "content", "created_ms", "client_message_id",
    "coalesce({0}pos, {0}seq)", "reply_to", "edited_ms", "deleted", "reactions", "mentions",
    "system",
)  # fmt: skip


def message_columns(table: str = "") -> str:
    """The select list of a message row (``table``: its alias in the query, if any)."""
    prefix = f"{table}." if table else ""
    return ", ".join(
        column.format(prefix) if "{" in column else prefix + column for column in _SELECTED
    )


MESSAGE_SELECT = message_columns()


def message_from_row(row: Sequence[Any]) -> Message:
    """A message from a row of :data:`MESSAGE_SELECT` whose texts are already ``str``."""
    return Message(
        id=MessageId(row[0]),
        chat_id=ChatId(row[1]),
        seq=row[2],
        user_id=UserId(row[3]),
        type=MessageType(row[4]),
        content=row[5],
        timestamp=from_epoch_ms(row[6]),
        client_message_id=row[7],
        pos=row[8],
        reply_to=None if row[9] is None else MessageId(row[9]),
        edited_at=None if row[10] is None else from_epoch_ms(row[10]),
        deleted=bool(row[11]),
        reactions=reactions_from_text(row[12]),
        mentions=mentions_from_text(row[13]),
        system=system_from_text(row[14]),
    )


def system_to_text(change: ChatChange | None) -> str | None:
    """How a system message's change is stored (None: an ordinary message)."""
    if change is None:
        return None
    return json.dumps(
        {"kind": change.kind.value, "by": change.by, "users": list(change.users),
         "title": change.title},
        ensure_ascii=False,
    )  # fmt: skip


def system_from_text(text: str | None) -> ChatChange | None:
    if not text:
        return None
    fields = json.loads(text)
    return ChatChange(
        kind=ChatChangeKind(fields["kind"]),
        by=UserId(fields["by"]),
        users=tuple(UserId(user) for user in fields["users"]),
        title=fields["title"],
    )


def chat_from_columns(
    chat_id: str,
    participants: Iterable[str],
    created_ms: int,
    title: str | None,
    kind: str,
    created_by: str | None,
) -> Chat:
    """A chat from its row's columns (``id``, ``created_ms``, ``title``, ``kind``,
    ``created_by``) and its participants in order."""
    return Chat(
        ChatId(chat_id),
        tuple(UserId(user) for user in participants),
        from_epoch_ms(created_ms),
        title,
        ChatKind(kind),
        None if created_by is None else UserId(created_by),
    )


def reactions_to_text(reactions: tuple[Reaction, ...]) -> str | None:
    """How a message's reactions are stored: ``[[emoji, [user, ...]], ...]`` (None: none)."""
    if not reactions:
        return None
    return json.dumps([[r.emoji, list(r.users)] for r in reactions], ensure_ascii=False)


def reactions_from_text(text: str | None) -> tuple[Reaction, ...]:
    if not text:
        return ()
    return tuple(
        Reaction(emoji, tuple(UserId(user) for user in users)) for emoji, users in json.loads(text)
    )


def mentions_to_text(mentions: tuple[UserId, ...]) -> str | None:
    """How a message's mentions are stored: ``[user, ...]`` (None: none)."""
    return json.dumps(list(mentions), ensure_ascii=False) if mentions else None


def mentions_from_text(text: str | None) -> tuple[UserId, ...]:
    return tuple(UserId(user) for user in json.loads(text)) if text else ()


def seq_at(pos: int, last_change: tuple[int, int] | None) -> int:
    """The newest message seq at log position ``pos``, given the newest change at or before
    it (its position and the newest seq then), if any. Every position is either a message or
    a change, so the positions after that change up to ``pos`` are all messages."""
    if last_change is None:
        return pos
    change_pos, change_last_seq = last_change
    return change_last_seq + (pos - change_pos)


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


def page_sql(chat_id: ChatId, page: MessagePage, mark: str) -> tuple[str, list[object], bool]:
    """The same selection as :func:`select_page` for a SQL engine whose placeholder is ``mark``:
    the ``WHERE ... ORDER BY ... LIMIT`` text, its parameters, and whether rows come oldest
    first (else they must be reversed)."""
    clauses: list[str] = [f"chat_id = {mark}"]
    params: list[object] = [chat_id]
    if page.before_seq is not None:
        clauses.append(f"seq < {mark}")
        params.append(page.before_seq)
    if page.after_seq is not None:
        clauses.append(f"seq > {mark}")
        params.append(page.after_seq)
    forward = page.after_seq is not None and page.before_seq is None
    sql = f"{' AND '.join(clauses)} ORDER BY seq {'ASC' if forward else 'DESC'} LIMIT {mark}"
    return sql, [*params, page.limit], forward
