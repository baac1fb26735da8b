"""HolderCache: which node held each chat lately, so forwarding skips most directory lookups.

A lookup (``Directory.holder``) costs a Redis round trip (a wait, and a wake-up's CPU) on every
command a node forwards. The cache keeps the answer for ``ttl_s`` (at most the lease TTL:
a holder that died silently is trusted no longer than its lease could outlive it). It is fed by
lookups, by owners' announcements and by every event the holder publishes on the bus (an
owner publishes only while its lease is valid, and each event names its node and lease token),
kept fresh by the holder's answers to forwarded commands, and corrected by the forwarder when a
node answers that it no longer holds the chat, or when nobody listens at that node any more. A
node with sockets in a chat thus hears from its holder with every event, and forwards to it
without a lookup for as long as the chat is busy.

A stale entry costs a detour, never a wrong answer: the node it names either still holds the
chat, or answers ``ChatElsewhere`` (the command did not run; it is sent on once), or
activates the chat itself (nobody held it), or is gone (the caller looks the holder up again).
Pure bookkeeping, no I/O; times are ``trio.current_time()`` values, passed in.
"""

from __future__ import annotations

import attrs

from chatactors.cluster.directory import Holder
from chatactors.domain.ids import ChatId


@attrs.frozen
class _Entry:
    holder: Holder
    expires_at: float


@attrs.frozen
class HolderCacheStatistics:
    #: Holders taken from the cache, and not found there (looked up in the directory).
    hits: int
    misses: int
    #: Chats remembered now.
    entries: int


@attrs.define(eq=False)
class HolderCache:
    #: This node: never cached (it knows the chats it holds; its registry routes to them).
    node_id: str
    ttl_s: float
    #: Chats remembered at most; the least recently learned are forgotten first.
    max_entries: int = 100_000
    _entries: dict[ChatId, _Entry] = attrs.field(factory=dict)
    _hits: int = 0
    _misses: int = 0

    def statistics(self) -> HolderCacheStatistics:
        return HolderCacheStatistics(self._hits, self._misses, len(self._entries))

    def get(self, chat_id: ChatId, now: float) -> Holder | None:
        """The holder if known and fresh (counted as a hit), else None (a miss)."""
        entry = self._entries.get(chat_id)
        if entry is not None and now < entry.expires_at:
            self._hits += 1
            return entry.holder
        if entry is not None:
            del self._entries[chat_id]
        self._misses += 1
        return None

    def peek(self, chat_id: ChatId, now: float) -> Holder | None:
        """As :meth:`get`, not counted (for bookkeeping, not routing)."""
        entry = self._entries.get(chat_id)
        return entry.holder if entry is not None and now < entry.expires_at else None

    def learn(self, chat_id: ChatId, holder: Holder, now: float) -> None:
        """Remember ``holder``, unless a fresh entry names a later activation (a larger token:
        tokens only grow, so an older answer arriving late cannot undo a newer one). This node
        holding it leaves no entry."""
        entry = self._entries.pop(chat_id, None)
        if holder.node_id == self.node_id:
            return
        if entry is not None and now < entry.expires_at and entry.holder.token > holder.token:
            self._entries[chat_id] = entry
            return
        self._entries[chat_id] = _Entry(holder, now + self.ttl_s)
        if len(self._entries) > self.max_entries:
            del self._entries[next(iter(self._entries))]

    def confirm(self, chat_id: ChatId, node_id: str, now: float) -> None:
        """``node_id`` just answered a command for the chat: it held the chat then, so a fresh
        entry naming it is kept ``ttl_s`` from now (a chat forwarded to steadily costs one
        lookup, not one per ``ttl_s``). An entry naming another node, or none, is left as is."""
        entry = self._entries.get(chat_id)
        if entry is not None and entry.holder.node_id == node_id and now < entry.expires_at:
            self._entries[chat_id] = _Entry(entry.holder, now + self.ttl_s)

    def forget(self, chat_id: ChatId, node_id: str | None = None) -> None:
        """Drop the chat's entry (only if it names ``node_id``, when given: a newer entry that
        names another node stays)."""
        entry = self._entries.get(chat_id)
        if entry is not None and (node_id is None or entry.holder.node_id == node_id):
            del self._entries[chat_id]

    def __len__(self) -> int:
        return len(self._entries)
