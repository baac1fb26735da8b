"""UserFeeds: which open user sockets to tell about a chat they were just added to.

A per-process directory, user id → the feeds (one per open user socket) of that user. Creating
a chat announces it to each participant's feeds, and adding members to a chat announces it to
the new members' feeds, with ``send_nowait`` into the socket's bounded
outbox, as a chat fans out its events: announcing never waits, and a feed whose outbox is full
is dropped as lagging (its socket closes with 4008 and the client resumes). In cluster mode the
node that creates a chat also relays it to the other nodes (``relay``: cluster/chat_creations.py),
and each of them announces it to its own feeds the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import attrs
import trio

from chatactors.actors.subscription import EndReason
from chatactors.domain.ids import UserId
from chatactors.domain.models import Chat, Message

_ids = itertools.count(1)


@attrs.frozen
class ChatAdded:
    """A chat that a feed's user was added to (put on the user socket's outbox)."""

    chat: Chat
    #: When members were added to an existing chat: the system message that added them (the
    #: chat's newest entry then). None: the chat was just created with them.
    message: Message | None = None

    @property
    def users(self) -> tuple[UserId, ...]:
        """Whom it is for: the members added, or every participant of a new chat."""
        if self.message is not None and self.message.system is not None:
            return self.message.system.users
        return self.chat.participants


@attrs.define(eq=False)
class UserFeed:
    user_id: UserId
    _send: Callable[[ChatAdded], None]
    #: Called with ``EndReason.LAGGED`` when the outbox is full.
    _on_end: Callable[[EndReason], None]
    id: int = attrs.field(factory=lambda: next(_ids))

    def offer(self, announcement: ChatAdded) -> bool:
        """False if the feed's owner is gone or fell behind (then it is to be dropped)."""
        try:
            self._send(announcement)
        except trio.WouldBlock:
            self._on_end(EndReason.LAGGED)
            return False
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        return True


@attrs.frozen
class UserFeedsStatistics:
    """A snapshot of :meth:`UserFeeds.statistics`."""

    #: Feeds open now (one per open user socket).
    feeds: int
    #: Announcements offered to feeds (a chat announced to three feeds counts three).
    announced: int
    #: Feeds dropped when offered one: their outbox was full (the socket, lagging, closes with
    #: 4008) or their socket had closed.
    dropped: int


@attrs.define(eq=False)
class UserFeeds:
    _feeds: dict[UserId, dict[int, UserFeed]] = attrs.field(factory=dict)
    #: Cluster mode: tells the other nodes of a chat created here, or of members added here
    #: (never raises).
    relay: Callable[[ChatAdded], Awaitable[None]] | None = None
    _announced: int = 0
    _dropped: int = 0

    @contextmanager
    def open_feed(
        self,
        user_id: UserId,
        send: Callable[[ChatAdded], None],
        on_end: Callable[[EndReason], None],
    ) -> Iterator[UserFeed]:
        """Register a feed for as long as the block runs (a user socket's lifetime)."""
        feed = UserFeed(user_id, send, on_end)
        self._feeds.setdefault(user_id, {})[feed.id] = feed
        try:
            yield feed
        finally:
            self._drop(feed)

    async def created(self, chat: Chat) -> None:
        """A chat was just stored here: announce it here, then (cluster mode) relay it to the
        other nodes, each of which announces it to its own feeds."""
        await self.added(ChatAdded(chat))

    async def added(self, announcement: ChatAdded) -> None:
        """Users were just added to a chat (created with them, or added since): announce it
        here, then relay it to the other nodes, as :meth:`created`."""
        self.announce(announcement)
        if self.relay is not None:
            await self.relay(announcement)

    def announce(self, announcement: ChatAdded) -> None:
        """Tell every open feed of the users it is for; never waits."""
        for user_id in announcement.users:
            feeds = self._feeds.get(user_id)
            if not feeds:
                continue
            for feed in list(feeds.values()):
                self._announced += 1
                if not feed.offer(announcement):
                    self._dropped += 1
                    self._drop(feed)

    def statistics(self) -> UserFeedsStatistics:
        return UserFeedsStatistics(
            feeds=sum(len(feeds) for feeds in self._feeds.values()),
            announced=self._announced,
            dropped=self._dropped,
        )

    def _drop(self, feed: UserFeed) -> None:
        feeds = self._feeds.get(feed.user_id)
        if feeds is not None:
            feeds.pop(feed.id, None)
            if not feeds:
                del self._feeds[feed.user_id]
