"""open_cluster_node: one node's cluster parts, built from each other in one place, started
together and stopped together.

Every part is made whole by its constructor, from parts made before it; nothing is set on an
object after it was built. The order is the dependency order: the Redis link and its Pub/Sub
channels; the directory, the holder cache and the forwarder; the placement the registry
activates chats through, and the chat creations that own the registry's user feeds; then the
registry itself (opened by the node, so that it closes first: stopping actors still publish
their last events and release their leases), whose handles go through the ``ClusterMailbox``
the node makes around it; last, what serves other nodes (the command server, the registered
sockets' sweep) and watches them (the owner watch).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Protocol

import attrs
import trio

from chatactors.actors.mailbox import Mailbox
from chatactors.actors.placement import Placement
from chatactors.actors.registry import ChatRegistry, open_registry
from chatactors.actors.user_feeds import UserFeeds
from chatactors.cluster.bus import BusStatistics, ChatBus
from chatactors.cluster.chat_creations import ChatCreations, ChatCreationsStatistics
from chatactors.cluster.command_routing import CommandRouter, RouterStatistics
from chatactors.cluster.command_server import CommandServer, CommandServerStatistics
from chatactors.cluster.directory import Directory, DirectoryStatistics
from chatactors.cluster.errors import ClusterUnavailable, single_errors
from chatactors.cluster.forwarder import (
    Forwarder,
    ForwarderStatistics,
    answer_channel,
    command_channel,
)
from chatactors.cluster.holders import HolderCache, HolderCacheStatistics
from chatactors.cluster.mailbox import ClusterMailbox
from chatactors.cluster.owner_watch import OwnerWatch, OwnerWatchStatistics
from chatactors.cluster.placement import LeasePlacement, PlacementStatistics
from chatactors.cluster.presence_snapshot import PresenceSnapshot
from chatactors.cluster.redis import (
    Channels,
    ChannelsStatistics,
    LinkStatistics,
    PublisherStatistics,
    RedisLink,
    TlsFiles,
    open_channels,
    open_redis_link,
)
from chatactors.cluster.redis.health import MAX_BACKOFF_S
from chatactors.cluster.redis.link import MAX_CONNECTIONS
from chatactors.cluster.remote_subscribers import (
    RemoteSubscribers,
    RemoteSubscribersStatistics,
)
from chatactors.cluster.socket_registrations import RegistrationStatistics, SocketRegistrations
from chatactors.settings import Settings
from chatactors.storage.store import ChatStore


class RegistryOpener(Protocol):
    """How the node opens its registry (``open_registry``, or a test's with its own clock)."""

    def __call__(
        self,
        store: ChatStore,
        settings: Settings,
        *,
        placement: Placement,
        route: Callable[[ChatRegistry], Mailbox],
        user_feeds: UserFeeds,
    ) -> AbstractAsyncContextManager[ChatRegistry]: ...


@attrs.frozen
class ClusterStatistics:
    """A node's counters, each part's snapshot as it gives it (``/metrics`` reads these)."""

    link: LinkStatistics
    channels: ChannelsStatistics
    publisher: PublisherStatistics
    directory: DirectoryStatistics
    placement: PlacementStatistics
    holders: HolderCacheStatistics
    forwarder: ForwarderStatistics
    router: RouterStatistics
    server: CommandServerStatistics
    bus: BusStatistics
    sockets: RegistrationStatistics
    remote_subscribers: RemoteSubscribersStatistics
    owner_watch: OwnerWatchStatistics
    creations: ChatCreationsStatistics


@attrs.frozen(eq=False)
class ClusterNode:
    """One node: its registry, and every part that connects it to the others."""

    node_id: str
    link: RedisLink
    channels: Channels
    directory: Directory
    holders: HolderCache
    forwarder: Forwarder
    placement: LeasePlacement
    creations: ChatCreations
    registry: ChatRegistry
    mailbox: ClusterMailbox
    bus: ChatBus
    server: CommandServer
    remote_subscribers: RemoteSubscribers
    owner_watch: OwnerWatch

    def statistics(self) -> ClusterStatistics:
        return ClusterStatistics(
            link=self.link.statistics(),
            channels=self.channels.statistics(),
            publisher=self.channels.publisher.statistics(),
            directory=self.directory.statistics(),
            placement=self.placement.statistics(),
            holders=self.holders.statistics(),
            forwarder=self.forwarder.statistics(),
            router=self.mailbox.commands.statistics(),
            server=self.server.statistics(),
            bus=self.bus.statistics(),
            sockets=self.mailbox.sockets.statistics(),
            remote_subscribers=self.remote_subscribers.statistics(),
            owner_watch=self.owner_watch.statistics(),
            creations=self.creations.statistics(),
        )


def redis_tls(settings: Settings) -> TlsFiles:
    """The files of a ``rediss://`` connection, as the settings name them."""
    return TlsFiles(
        ca_file=Path(settings.redis_ca_file) if settings.redis_ca_file else None,
        cert_file=Path(settings.redis_cert_file) if settings.redis_cert_file else None,
        key_file=Path(settings.redis_key_file) if settings.redis_key_file else None,
    )


def holder_cache_ttl_s(settings: Settings) -> float:
    """How long a chat's holder is trusted without a lookup: half the lease TTL unless set,
    never more than the TTL (a holder that died silently is trusted no longer than its lease
    could outlive it)."""
    if settings.holder_cache_ttl_s is None:
        return settings.lease_ttl_s / 2
    return min(settings.holder_cache_ttl_s, settings.lease_ttl_s)


def open_cluster_link(
    url: str,
    *,
    timeout_s: float,
    tls: TlsFiles | None = None,
    max_connections: int = MAX_CONNECTIONS,
    max_backoff_s: float = MAX_BACKOFF_S,
) -> AbstractAsyncContextManager[RedisLink]:
    """The node's Redis link: its failures are ``ClusterUnavailable`` (503 + Retry-After)."""
    return open_redis_link(
        url, timeout_s=timeout_s, tls=tls, unavailable=ClusterUnavailable,
        max_connections=max_connections, max_backoff_s=max_backoff_s,
    )  # fmt: skip


@asynccontextmanager
async def open_cluster_node(
    settings: Settings, store: ChatStore, *, open_local: RegistryOpener = open_registry
) -> AsyncIterator[ClusterNode]:
    """Connect to Redis (``settings.redis_url``), open this node's registry on ``store`` with
    ``open_local``, and serve the cluster until the block ends; the registry closes first.
    Raises ``ClusterUnavailable`` if Redis is unreachable at start."""
    node_id = settings.cluster_node_id
    ttl_s = settings.lease_ttl_s
    with single_errors():
        async with (
            open_cluster_link(
                settings.redis_url,
                timeout_s=settings.redis_timeout_s,
                tls=redis_tls(settings),
                max_connections=settings.redis_max_connections,
                max_backoff_s=settings.redis_backoff_max_s,
            ) as link,
            open_channels(link, publish_queue_size=settings.redis_publish_queue_size) as channels,
            trio.open_nursery() as nursery,
        ):
            # Who holds what, and how commands reach them.
            directory = Directory(link, ttl_s)
            cache_ttl_s = holder_cache_ttl_s(settings)
            holders = HolderCache(node_id, cache_ttl_s)
            cache = holders if cache_ttl_s > 0 else None
            forwarder = Forwarder(node_id, channels, settings.command_timeout_s, cache, nursery)
            await channels.listen(answer_channel(node_id), forwarder.on_answer)
            nursery.start_soon(forwarder.expire)
            # Where this node's actors run, and what they publish for the others.
            snapshot = PresenceSnapshot(link, settings.presence_snapshot_ttl_s)
            placement = LeasePlacement(
                directory, channels.publisher, node_id, snapshot, settings.owner_queue_size
            )
            nursery.start_soon(placement.keep_leases)
            creations = ChatCreations(node_id, channels)
            # What this node hears of the chats others own (gaps filled from the store).
            bus = ChatBus(channels, settings.subscriber_queue_size, store, nursery, cache)

            def route(local: ChatRegistry) -> ClusterMailbox:
                router = CommandRouter(
                    node_id, local, local.holds, directory, forwarder, cache, nursery
                )
                return ClusterMailbox(router, SocketRegistrations(node_id, router, bus, nursery))

            async with open_local(
                store, settings, placement=placement, route=route, user_feeds=creations.feeds
            ) as registry:
                mailbox = registry.mailbox
                assert isinstance(mailbox, ClusterMailbox)
                # Serving the other nodes: their commands, their sockets registered here.
                remote_subscribers = RemoteSubscribers(registry, link, ttl_s)
                server = CommandServer.open(
                    registry, channels.publisher, settings.forward_queue_size,
                    remote_subscribers.answered,
                )  # fmt: skip
                await channels.listen(command_channel(node_id), server.on_command)
                nursery.start_soon(server.run)
                nursery.start_soon(remote_subscribers.run)
                # Half a lease: a dead owner is noticed before its lease expires.
                owner_watch = OwnerWatch(link, mailbox.sockets, ttl_s / 2)
                nursery.start_soon(owner_watch.run)
                await creations.listen()
                yield ClusterNode(
                    node_id, link, channels, directory, holders, forwarder, placement,
                    creations, registry, mailbox, bus, server, remote_subscribers, owner_watch,
                )  # fmt: skip
            nursery.cancel_scope.cancel()
