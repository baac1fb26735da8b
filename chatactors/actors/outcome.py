"""What a chat's state decides a command does (:class:`Outcome`), as data: the store writes to
make, a page to read from the store, a new subscriber's plan, a user's pending offline. Made by
``ChatState.apply`` (actors/chat_state.py) and carried out by the actor (actors/chat.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from chatactors.domain.errors import ChatError
from chatactors.domain.events import ChatEvent, LogEvent
from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import Message, ReadMark
from chatactors.storage.store import ChatUpdate, LogPage, MessageChange, MessagePage


@attrs.frozen
class AppendMessage:
    message: Message


@attrs.frozen
class ChangeMessage:
    change: MessageChange


@attrs.frozen
class UpdateChat:
    update: ChatUpdate


@attrs.frozen
class SaveReadMark:
    chat_id: ChatId
    mark: ReadMark


@attrs.frozen
class SaveLastSeen:
    chat_id: ChatId
    user_id: UserId
    moment: datetime


StoreWrite = AppendMessage | ChangeMessage | UpdateChat | SaveReadMark | SaveLastSeen


@attrs.frozen
class ReadFromStore:
    """The answer is a page older than the in-memory window: the actor reads it from the store."""

    page: MessagePage


@attrs.frozen
class ReadLogFromStore:
    """The answer is a stretch of the log that memory does not hold: the actor reads it."""

    page: LogPage


@attrs.frozen
class FindMessage:
    """The command needs a message older than the in-memory window: the actor reads it from
    the store and applies the command again with it (``Found``)."""

    message_id: MessageId


@attrs.frozen
class Found:
    """What the store holds under ``message_id`` in this chat (None: nothing)."""

    message_id: MessageId
    message: Message | None


@attrs.frozen
class SubscribePlan:
    """What a new subscriber gets; the actor opens the Subscription from it."""

    subscriber_id: int
    user_id: UserId | None
    #: Log entries to send before the live events (or where to read them); read by seq
    #: (``after_seq``), only messages.
    replay: tuple[LogEvent, ...] | ReadFromStore | ReadLogFromStore
    resync_required: bool
    latest_seq: int
    latest_pos: int


@attrs.frozen
class GoingOffline:
    """A user whose last socket closed: offline at ``until`` unless a socket of theirs comes
    back first (a page reload, a brief network drop), in which case nothing is published."""

    #: The monotonic deadline (``clock`` + ``presence_grace_s``).
    until: float
    #: The wall time the last socket closed: the user's last-seen if they do go offline.
    since: datetime


@attrs.frozen
class Outcome:
    """What a command does: applied to the state by :meth:`ChatState.commit`, after its writes."""

    result: Any = None
    error: ChatError | None = None
    events: tuple[ChatEvent, ...] = ()
    writes: tuple[StoreWrite, ...] = ()
    #: Typing timers to set (a monotonic deadline) or clear (None).
    typing: tuple[tuple[UserId, float | None], ...] = ()
    #: Pending offline timers to set or clear (None).
    offline: tuple[tuple[UserId, GoingOffline | None], ...] = ()
    #: A new subscriber (its id, and the user it counts for in presence, if any).
    joined: tuple[int, UserId | None] | None = None
    #: The id of a subscriber that left.
    left: int | None = None
    #: Subscribers to end (``EndReason.REMOVED``) right after the log entry that removed
    #: their user is published (see ``removed_by``).
    dropped: tuple[int, ...] = ()
