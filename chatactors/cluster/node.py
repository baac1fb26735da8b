"""open_cluster_node: one node's cluster parts, started together and stopped together.

The Redis link, the directory, the bus and the forwarder open first, with the
``LeasePlacement`` the registry activates chats through; :meth:`ClusterNode.attach` then starts
the server for commands forwarded here and gives the ``ClusterMailbox`` that routes this node's
commands, and :meth:`ClusterNode.share_chat_creations` announces the chats other nodes create
on this node's user sockets (and this node's on theirs). Serving (web/lifespan.py) opens the
node before the registry and closes it after, so stopping actors can still publish their last
events and release their leases.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import attrs
import trio

from chatactors.actors.mailbox import Mailbox
from chatactors.actors.user_feeds import UserFeeds
from chatactors.cluster.bus import ChatBus, History
from chatactors.cluster.chat_creations import ChatCreations
from chatactors.cluster.command_server import CommandServer
from chatactors.cluster.directory import Directory
from chatactors.cluster.errors import ClusterUnavailable, single_errors
from chatactors.cluster.forwarder import Forwarder, answer_channel, command_channel
from chatactors.cluster.holders import HolderCache
from chatactors.cluster.owner_watch import OwnerWatch
from chatactors.cluster.placement import LeasePlacement
from chatactors.cluster.presence_snapshot import PresenceSnapshot
from chatactors.cluster.redis import (
    Channels,
    RedisLink,
    TlsFiles,
    open_channels,
    open_redis_link,
)
from chatactors.cluster.remote_subscribers import RemoteSubscribers
from chatactors.cluster.routing import ClusterMailbox
from chatactors.domain.ids import ChatId


@attrs.frozen
class ClusterSettings:
    redis_url: str = attrs.field(repr=False)  # it may hold a password
    node_id: str
    lease_ttl_s: float = 5.0
    #: Bound on each Redis operation: past it, ``ClusterUnavailable`` (503).
    redis_timeout_s: float = 1.0
    #: For ``rediss://``: whom to trust, and this node's certificate (None: the system's CAs).
    redis_tls: TlsFiles | None = None
    #: How long a forwarded command may take before its caller gets ``ChatUnavailable``.
    forward_timeout_s: float = 10.0
    #: Forwarded commands queued at this node before senders get ``Overloaded``.
    forward_queue_size: int = 1024
    #: Frames a bus subscriber may have queued before it counts as lagging.
    subscriber_queue_size: int = 256
    #: How long a chat's holder is trusted without asking the directory; None: half the
    #: lease TTL (never more than the TTL); 0: ask every time.
    holder_cache_ttl_s: float | None = None

    @property
    def holder_cache_s(self) -> float:
        if self.holder_cache_ttl_s is None:
            return self.lease_ttl_s / 2
        return min(self.holder_cache_ttl_s, self.lease_ttl_s)


def _holds_none(chat_id: ChatId) -> bool:
    return False


@attrs.define(eq=False)
class ClusterNode:
    settings: ClusterSettings
    link: RedisLink
    channels: Channels
    directory: Directory
    bus: ChatBus
    forwarder: Forwarder
    placement: LeasePlacement
    holders: HolderCache
    _nursery: trio.Nursery
    server: CommandServer | None = None
    remote_subscribers: RemoteSubscribers | None = None
    mailbox: ClusterMailbox | None = None
    owner_watch: OwnerWatch | None = None
    creations: ChatCreations | None = None

    async def attach(
        self,
        local: Mailbox,
        holds_locally: Callable[[ChatId], bool] = _holds_none,
        history: History | None = None,
    ) -> ClusterMailbox:
        """Serve commands forwarded here with ``local`` (this node's registry) and route this
        node's own commands; ``history`` (the store) fills the bus's gaps. Raises
        ``ClusterUnavailable`` if Redis is unreachable."""
        node_id = self.settings.node_id
        self.bus.history, self.bus.nursery = history, self._nursery
        server = CommandServer.open(
            local, self.channels, self._nursery, self.settings.forward_queue_size
        )
        self.remote_subscribers = RemoteSubscribers(local, self.link, self.settings.lease_ttl_s)
        server.on_answered = self.remote_subscribers.answered
        await self.channels.listen(command_channel(node_id), server.on_command)
        self._nursery.start_soon(server.run)
        self._nursery.start_soon(self.remote_subscribers.run)
        self.server = server
        self.mailbox = ClusterMailbox(
            node_id,
            local,
            self.directory,
            self.forwarder,
            self.bus,
            holds_locally,
            nursery=self._nursery,
            holders=self.holders if self.settings.holder_cache_s > 0 else None,
        )
        self.bus.on_owner = self.mailbox.on_owner
        # Half a lease: a dead owner is noticed before its lease expires.
        self.owner_watch = OwnerWatch(self.link, self.mailbox, self.settings.lease_ttl_s / 2)
        self._nursery.start_soon(self.owner_watch.run)
        return self.mailbox

    async def share_chat_creations(self, feeds: UserFeeds) -> ChatCreations:
        """Announce the chats other nodes create to ``feeds`` (this node's user sockets); its
        ``publish`` relays the chats created here to them (``UserFeeds.relay``). Raises
        ``ClusterUnavailable`` if Redis is unreachable."""
        self.creations = ChatCreations(self.settings.node_id, self.channels, feeds)
        await self.creations.start()
        return self.creations


def open_cluster_link(
    url: str, *, timeout_s: float, tls: TlsFiles | None = None
) -> AbstractAsyncContextManager[RedisLink]:
    """The node's Redis link: its failures are ``ClusterUnavailable`` (503 + Retry-After)."""
    return open_redis_link(url, timeout_s=timeout_s, tls=tls, unavailable=ClusterUnavailable)


@asynccontextmanager
async def open_cluster_node(
    settings: ClusterSettings, local: Mailbox | None = None
) -> AsyncIterator[ClusterNode]:
    """Start the node's cluster parts (and :meth:`~ClusterNode.attach` ``local`` if given).
    Raises ``ClusterUnavailable`` if Redis is unreachable at start."""
    node_id = settings.node_id
    with single_errors():
        async with (
            open_cluster_link(
                settings.redis_url, timeout_s=settings.redis_timeout_s, tls=settings.redis_tls
            ) as link,
            open_channels(link) as channels,
            trio.open_nursery() as nursery,
        ):
            directory = Directory(link, settings.lease_ttl_s)
            holders = HolderCache(node_id, settings.holder_cache_s)
            forwarder = Forwarder(
                node_id, channels, settings.forward_timeout_s, holders=holders, nursery=nursery
            )
            await channels.listen(answer_channel(node_id), forwarder.on_answer)
            nursery.start_soon(forwarder.expire)
            bus = ChatBus(channels, settings.subscriber_queue_size)
            placement = LeasePlacement(directory, bus, node_id, snapshot=PresenceSnapshot(link))
            node = ClusterNode(
                settings, link, channels, directory, bus, forwarder, placement, holders, nursery
            )
            if local is not None:
                await node.attach(local)
            yield node
            nursery.cancel_scope.cancel()
