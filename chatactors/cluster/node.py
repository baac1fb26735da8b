"""open_cluster_node: one node's cluster parts, started together and stopped together.

What serving will hold in cluster mode (not wired into ``serve`` yet): the Redis link, the
directory, the bus, the forwarder with the server for commands forwarded here, and the
``ClusterMailbox`` that routes this node's commands.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import trio

from chatactors.actors.mailbox import Mailbox
from chatactors.cluster.bus import ChatBus
from chatactors.cluster.channels import Channels, open_channels
from chatactors.cluster.command_server import CommandServer
from chatactors.cluster.directory import Directory
from chatactors.cluster.errors import single_errors
from chatactors.cluster.forwarder import Forwarder, answer_channel, command_channel
from chatactors.cluster.redis_link import RedisLink, open_redis_link
from chatactors.cluster.routing import ClusterMailbox


@attrs.frozen
class ClusterSettings:
    redis_url: str
    node_id: str
    lease_ttl_s: float = 5.0
    #: Bound on each Redis operation: past it, ``ClusterUnavailable`` (503).
    redis_timeout_s: float = 1.0
    #: How long a forwarded command may take before its caller gets ``ChatUnavailable``.
    forward_timeout_s: float = 10.0
    #: Forwarded commands queued at this node before senders get ``Overloaded``.
    forward_queue_size: int = 1024
    #: Frames a bus subscriber may have queued before it counts as lagging.
    subscriber_queue_size: int = 256


@attrs.frozen
class ClusterNode:
    settings: ClusterSettings
    link: RedisLink
    channels: Channels
    directory: Directory
    bus: ChatBus
    forwarder: Forwarder
    server: CommandServer
    mailbox: ClusterMailbox


@asynccontextmanager
async def open_cluster_node(
    settings: ClusterSettings, local: Mailbox
) -> AsyncIterator[ClusterNode]:
    """Start the node's cluster parts around ``local`` (this node's registry). Raises
    ``ClusterUnavailable`` if Redis is unreachable at start."""
    node_id = settings.node_id
    with single_errors():
        async with (
            open_redis_link(settings.redis_url, timeout_s=settings.redis_timeout_s) as link,
            open_channels(link) as channels,
            trio.open_nursery() as nursery,
        ):
            directory = Directory(link, settings.lease_ttl_s)
            forwarder = Forwarder(node_id, channels, settings.forward_timeout_s)
            server = CommandServer.open(local, channels, nursery, settings.forward_queue_size)
            await channels.listen(answer_channel(node_id), forwarder.on_answer)
            await channels.listen(command_channel(node_id), server.on_command)
            nursery.start_soon(forwarder.expire)
            nursery.start_soon(server.run)
            bus = ChatBus(channels, settings.subscriber_queue_size)
            mailbox = ClusterMailbox(node_id, local, directory, forwarder)
            yield ClusterNode(settings, link, channels, directory, bus, forwarder, server, mailbox)
            nursery.cancel_scope.cancel()
