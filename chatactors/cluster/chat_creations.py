"""ChatCreations: a chat created through one node, announced on every node's user sockets
(and so are members added to a chat: the chat is announced to them).

The node that stores a new chat announces it to its own open user sockets at once
(``UserFeeds.created``), then publishes it once on one cluster-wide channel; every node listens
to that channel from its start and announces what other nodes created to its own sockets the
same way (``UserFeeds.announce``: never waits; a full socket is dropped with 4008).

One channel for the whole cluster, not one per user: creating a chat costs one publish whatever
its size, and a node subscribes once, not once per connecting user (no Redis round trip before a
socket's ``ready``). Every node decodes every creation, which is cheap next to the messages.

Pub/Sub keeps nothing: a node cut off from Redis when the chat is created never hears of it,
and a Redis outage at the creator leaves the chat announced on its own node only (the creation
itself still succeeds; it is stored). A socket that missed an announcement learns of the chat
when it reconnects (``ready`` lists the user's chats from the store) or from ``GET /chats``.
Each socket announces a chat at most once (the creator skips its own publication; a socket
already carrying the chat ignores it).
"""

from __future__ import annotations

import logging

import attrs

from chatactors.actors.user_feeds import ChatAdded, UserFeeds
from chatactors.cluster import codec
from chatactors.cluster.errors import ClusterUnavailable
from chatactors.cluster.redis import Channels

log = logging.getLogger(__name__)

#: Where every node hears of the chats the other nodes created.
CREATED_CHANNEL = "chatactors:chats:created"


@attrs.frozen
class ChatCreationsStatistics:
    #: Chats this node created and told the others of, or could not (Redis unreachable).
    published: int
    unpublished: int
    #: Chats other nodes created, announced to this node's sockets.
    received: int


@attrs.define(eq=False)
class ChatCreations:
    """Owns the node's ``UserFeeds`` (its open user sockets): the registry announces the chats
    it creates there, and the feeds relay each to the other nodes through :meth:`publish`."""

    node_id: str
    _channels: Channels
    feeds: UserFeeds = attrs.field(init=False)
    _published: int = 0
    _unpublished: int = 0
    _received: int = 0

    def __attrs_post_init__(self) -> None:
        self.feeds = UserFeeds(relay=self.publish)

    def statistics(self) -> ChatCreationsStatistics:
        return ChatCreationsStatistics(self._published, self._unpublished, self._received)

    async def listen(self) -> None:
        """Announce the chats other nodes create on this node's feeds, from now on. Raises
        ``ClusterUnavailable`` if Redis is unreachable."""
        await self._channels.listen(CREATED_CHANNEL, self.on_created)

    async def publish(self, added: ChatAdded) -> None:
        """Tell every other node; if Redis is unreachable, only this node announced it."""
        chat = added.chat
        data = codec.encode_chat_created(codec.ChatCreated(self.node_id, chat, added.message))
        try:
            await self._channels.publish(CREATED_CHANNEL, data)
        except ClusterUnavailable:
            self._unpublished += 1
            log.warning("chat %s: not announced on the other nodes (Redis unreachable)", chat.id)
            return
        self._published += 1

    def on_created(self, data: bytes) -> None:
        """The channel handler (never blocks)."""
        try:
            created = codec.decode_chat_created(data)
        except codec.UndecodableMessage:
            log.warning("undecodable chat creation on the bus")
            return
        if created.origin == self.node_id:
            return  # announced here when it was stored
        self._received += 1
        self.feeds.announce(ChatAdded(created.chat, created.message))
