"""ChatLog: the recent part of a chat's log, in memory, without I/O (owned by ``ChatState``).

A chat's log numbers every message and every change to one with a position (``pos``); messages
also keep their own ``seq`` (1, 2, 3 ... messages only). In memory are the newest messages in
their current state (the window: pages and replays by seq come from it, and lookups by id), and
the changes made since the chat was loaded (replays by position). What memory does not hold,
these methods say so, and the actor reads it from the store: the store is the whole log.
"""

from __future__ import annotations

from collections import deque

import attrs

from chatactors.actors.outcome import ReadFromStore, ReadLogFromStore
from chatactors.domain.events import LogEvent, MessageReceived, MessageUpdated
from chatactors.domain.ids import MessageId
from chatactors.domain.models import ChangeKind, Message
from chatactors.storage.store import LoadedChat, LogPage, MessagePage, select_page


@attrs.define(eq=False)
class ChatLog:
    """Build with :meth:`from_loaded`; changed only through :meth:`append` and :meth:`replace`."""

    #: The newest messages, by seq, in their current state.
    window: deque[Message]
    #: The window's messages by id.
    by_id: dict[MessageId, Message]
    #: Recent changes: (pos, seq of the message, what changed).
    changes: deque[tuple[int, int, ChangeKind]]
    last_seq: int
    last_pos: int
    #: Every log entry after this position is in memory (a change's message may not be).
    floor: int

    @classmethod
    def from_loaded(cls, loaded: LoadedChat, size: int) -> ChatLog:
        size = max(size, 1)
        window = deque(loaded.recent, maxlen=size)
        # Every message is an entry of the log, so pos >= seq (equal while nothing changed).
        last_pos = max(loaded.last_pos, loaded.last_seq)
        return cls(
            window=window,
            by_id={message.id: message for message in window},
            changes=deque(maxlen=size),
            last_seq=loaded.last_seq,
            last_pos=last_pos,
            # Changes made before this load are not in memory: replays before now are read.
            floor=last_pos,
        )

    @property
    def holds_every_message(self) -> bool:
        """The window starts at the chat's first message: an id not in it is no message."""
        return self.window[0].seq == 1 if self.window else self.last_seq == 0

    def find(self, message_id: MessageId) -> Message | None:
        """The message, if it is in the window."""
        return self.by_id.get(message_id)

    def _by_seq(self, seq: int) -> Message | None:
        if not self.window:
            return None
        index = seq - self.window[0].seq
        return self.window[index] if 0 <= index < len(self.window) else None

    # -- reading --------------------------------------------------------------------------

    def page(self, page: MessagePage) -> list[Message] | ReadFromStore:
        """A page from the window when it covers it; else what to read from the store."""
        if page.limit <= 0:
            return []
        if page.after_seq is not None and page.before_seq is None:
            lowest_needed = page.after_seq + 1
        else:
            upper = self.last_seq + 1 if page.before_seq is None else page.before_seq
            lowest_needed = max(upper - page.limit, (page.after_seq or 0) + 1, 1)
        window_start = self.window[0].seq if self.window else self.last_seq + 1
        if lowest_needed >= window_start:
            return select_page(list(self.window), page)
        return ReadFromStore(page)

    def replay(
        self, after_pos: int, through_pos: int, limit: int
    ) -> tuple[LogEvent, ...] | ReadLogFromStore:
        """The entries after ``after_pos`` through ``through_pos`` (at most ``limit``), each
        with its message's current state; or what to read from the store."""
        from_store = ReadLogFromStore(LogPage(after_pos, limit, through_pos))
        if after_pos < self.floor:
            return from_store
        entries: list[LogEvent] = []
        for message in reversed(self.window):
            if message.pos <= after_pos:
                break
            if message.pos <= through_pos:
                entries.append(MessageReceived(message))
        for pos, seq, kind in reversed(self.changes):
            if pos <= after_pos:
                break
            if pos > through_pos:
                continue
            current = self._by_seq(seq)
            if current is None:
                return from_store  # a change to a message older than the window
            entries.append(MessageUpdated(current, pos, kind))
        entries.sort(key=_pos)
        return tuple(entries[:limit])

    # -- changing (once the store has it) -------------------------------------------------

    def append(self, message: Message) -> None:
        window = self.window
        if len(window) == window.maxlen:
            evicted = window[0]
            self.by_id.pop(evicted.id, None)
            self.floor = max(self.floor, evicted.pos)
        window.append(message)
        self.by_id[message.id] = message
        self.last_seq = message.seq
        self.last_pos = message.pos

    def replace(self, message: Message, pos: int, kind: ChangeKind) -> None:
        """``message`` in its new state after the change at ``pos``."""
        if self._by_seq(message.seq) is not None:
            self.window[message.seq - self.window[0].seq] = message
            self.by_id[message.id] = message
        changes = self.changes
        if len(changes) == changes.maxlen:
            self.floor = max(self.floor, changes[0][0])
        changes.append((pos, message.seq, kind))
        self.last_pos = pos


def _pos(entry: LogEvent) -> int:
    return entry.pos if isinstance(entry, MessageUpdated) else entry.message.pos
