"""How both SQL engines (sqlite.py, postgres.py) lay chats and messages out in rows.

The columns of a message row and how each is read back, the JSON text columns (a system
message's change, reactions, mentions), a chat from its columns, the SQL of a message page, and
the seq at a log position. The engines share these so that they store the same thing the same
way; what a page or a log page means is the interface's (store.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from chatactors.domain.clock import from_epoch_ms
from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import (
    Chat,
    ChatChange,
    ChatChangeKind,
    ChatKind,
    Message,
    MessageType,
    Reaction,
)
from chatactors.storage.store import MessagePage

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


def page_sql(chat_id: ChatId, page: MessagePage, mark: str) -> tuple[str, list[object], bool]:
    """The same selection as ``store.select_page`` for a SQL engine whose placeholder is ``mark``:
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
