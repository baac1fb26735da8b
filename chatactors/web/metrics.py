"""Prometheus metrics at /metrics: sockets, actors, inboxes, messages, events, latency.

Counts that actors keep (messages, events, crashes) are read from the ``statistics()``
snapshots of the registry and of the user feeds when scraped, so the hot path pays nothing for
them; the web layer counts what only it sees (connections, disconnect reasons, send latency).
Each serving lifetime has its own collector registry, made with its :class:`Services`
(web/lifespan.py); /metrics is in web/health.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import attrs
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest

from chatactors.actors.registry import ChatRegistry
from chatactors.cluster.node import ClusterNode
from chatactors.connections import ConnectionsStatistics


@attrs.define(eq=False)
class WebMetrics:
    registry: CollectorRegistry
    connections: Gauge
    disconnects: Counter
    send_latency: Histogram

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _RegistryCollector:
    """Reads the statistics of the chat registry and of its user feeds at scrape time."""

    def __init__(self, chats: ChatRegistry) -> None:
        self._chats = chats

    def collect(self) -> Iterator[Metric]:
        stats = self._chats.statistics()
        feeds = self._chats.user_feeds.statistics()
        gauges = {
            "chatactors_active_actors": ("Chat actors running now", stats.active_actors),
            "chatactors_subscribers": (
                "Event subscribers (sockets, bots excluded)",
                stats.subscribers,
            ),
            "chatactors_inbox_queued_requests": (
                "Requests waiting in all inboxes",
                stats.queued_requests,
            ),
            "chatactors_user_feeds": (
                "User sockets (/ws) told of the chats their user is added to",
                feeds.feeds,
            ),
        }
        for name, (doc, value) in gauges.items():
            yield GaugeMetricFamily(name, doc, value=value)
        counters = {
            "chatactors_actor_commands": ("Commands chat actors handled", stats.commands),
            "chatactors_messages": ("Messages stored", stats.messages),
            "chatactors_events": ("Events published", stats.events),
            "chatactors_event_deliveries": ("Events offered to subscribers", stats.deliveries),
            "chatactors_lagged_subscribers": (
                "Subscribers dropped for falling behind",
                stats.lagged_subscribers,
            ),
            "chatactors_actor_activations": ("Chat actors started", stats.activations),
            "chatactors_actor_deactivations": (
                "Chat actors stopped when idle",
                stats.deactivations,
            ),
            "chatactors_actor_crashes": ("Chat actors that crashed", stats.crashes),
            "chatactors_actor_reloads": (
                "Chat actors that ended to reload from the store (a write of unknown outcome)",
                stats.reloads,
            ),
            "chatactors_chats_announced": (
                "Chats announced to user sockets (/ws), one per socket",
                feeds.announced,
            ),
            "chatactors_user_feeds_dropped": (
                "User sockets dropped when a chat was announced to them (lagging: closed with "
                "4008; or already closed)",
                feeds.dropped,
            ),
        }
        for name, (doc, value) in counters.items():
            yield CounterMetricFamily(name, doc, value=value)


class _ClusterCollector:
    """This node's share of the cluster: forwarding, leases, the bus (read at scrape time,
    from the node's statistics snapshot)."""

    def __init__(self, node: ClusterNode) -> None:
        self._node = node

    def collect(self) -> Iterator[Metric]:
        stats = self._node.statistics()
        leases, bus, link = stats.placement, stats.bus, stats.link
        counters = {
            "chatactors_cluster_forwarded_commands": (
                "Commands forwarded to the node holding their chat",
                stats.forwarder.forwarded,
            ),
            "chatactors_cluster_forward_timeouts": (
                "Forwarded commands not answered in time",
                stats.forwarder.timed_out,
            ),
            "chatactors_cluster_rerouted_commands": (
                "Commands sent on to the node holding their chat (a race to activate it, or "
                "forwarded to a node that no longer held it)",
                stats.forwarder.rerouted + stats.router.rerouted,
            ),
            "chatactors_cluster_holder_cache_hits": (
                "Chat holders taken from the cache, without a directory lookup",
                stats.holders.hits,
            ),
            "chatactors_cluster_holder_cache_misses": (
                "Chat holders not cached (or expired): looked up in the directory",
                stats.holders.misses,
            ),
            "chatactors_cluster_sockets_reregistered": (
                "Sockets here registered again with their chat's new owner",
                stats.sockets.reregistered,
            ),
            "chatactors_cluster_served_commands": (
                "Commands other nodes forwarded here, answered",
                stats.server.served,
            ),
            "chatactors_cluster_sockets_of_dead_nodes": (
                "Sockets of nodes gone from Redis, unsubscribed here",
                stats.remote_subscribers.swept,
            ),
            "chatactors_cluster_sockets_of_dead_owners": (
                "Sockets here whose chat's owner node was gone, registered again",
                stats.sockets.orphaned,
            ),
            "chatactors_cluster_presence_handovers": (
                "Chats activated here that took over users online from the activation before",
                leases.handovers,
            ),
            "chatactors_cluster_lease_claims": ("Chat leases claimed here", leases.claims),
            "chatactors_cluster_lease_claims_refused": (
                "Claims refused: another node held the chat",
                leases.claims_refused,
            ),
            "chatactors_cluster_lease_renewals": ("Lease renewals", leases.renewals),
            "chatactors_cluster_lease_renewal_calls": (
                "Script calls that renewed leases (all of a node's together: sent / calls = mean)",
                stats.directory.renewal_calls,
            ),
            "chatactors_cluster_lease_renewals_sent": (
                "Lease renewals those calls carried",
                stats.directory.renewals_sent,
            ),
            "chatactors_cluster_lease_losses": (
                "Leases lost (not renewed in time, or taken): their actors stopped",
                leases.losses,
            ),
            "chatactors_cluster_events_withheld": (
                "Events not published because the lease was no longer valid",
                leases.withheld,
            ),
            "chatactors_cluster_bus_published": ("Events published on the bus", leases.published),
            "chatactors_cluster_bus_received": ("Events received from the bus", bus.received),
            "chatactors_cluster_bus_gaps": (
                "Gaps in seq seen on the bus (filled from the store, or the socket resumes)",
                bus.gaps,
            ),
            "chatactors_cluster_bus_filled": (
                "Messages of bus gaps read from the store instead",
                bus.filled,
            ),
            "chatactors_cluster_bus_lag_seconds_sum": (
                "Sum over received messages of (received - created) seconds",
                bus.lag_s_sum,
            ),
            "chatactors_cluster_bus_lag_count": ("Messages the lag sum covers", bus.lag_count),
            "chatactors_cluster_chats_announced": (
                "Chats other nodes created, announced to this node's user sockets",
                stats.creations.received,
            ),
            "chatactors_cluster_chats_not_relayed": (
                "Chats created here that other nodes did not hear of (Redis unreachable)",
                stats.creations.unpublished,
            ),
            "chatactors_cluster_redis_failures": (
                "Redis operations that failed, timed out or met a failover reply",
                link.failures,
            ),
            "chatactors_cluster_redis_fast_failures": (
                "Redis operations refused at once because Redis was known down",
                link.fast_failures,
            ),
            "chatactors_cluster_redis_outages": (
                "Times Redis went down for this node (unreachable, too slow, refusing, failing "
                "over)",
                link.outages,
            ),
            "chatactors_cluster_redis_connections": (
                "Connections to Redis this node opened",
                link.connects,
            ),
            "chatactors_cluster_publish_queue_full": (
                "PUBLISHes refused at once because the publisher's queue was full (Redis far "
                "behind)",
                stats.publisher.queue_full,
            ),
            "chatactors_cluster_pubsub_outbox_full": (
                "(Un)subscriptions refused because Redis stopped reading this node's Pub/Sub "
                "connection (it was then opened again)",
                stats.channels.outbox_full,
            ),
            "chatactors_cluster_pubsub_reconnects": (
                "Times this node's Pub/Sub connection to Redis was opened again after breaking",
                stats.channels.reconnects,
            ),
            "chatactors_cluster_pubsub_unclaimed": (
                "Pub/Sub messages for a channel this node no longer listened to",
                stats.channels.unclaimed,
            ),
            "chatactors_cluster_pubsub_rejected": (
                "Pub/Sub messages dropped because their handler could not take them",
                stats.channels.rejected,
            ),
            "chatactors_cluster_publish_batches": (
                "Round trips that carried this node's PUBLISHes (events, commands, answers)",
                stats.publisher.batches,
            ),
            "chatactors_cluster_publish_messages": (
                "Commands those round trips carried: PUBLISHes, and the presence snapshot's "
                "writes beside them (messages / batches = mean batch)",
                stats.publisher.commands,
            ),
        }
        for name, (doc, value) in counters.items():
            yield CounterMetricFamily(name, doc, value=value)
        yield GaugeMetricFamily(
            "chatactors_cluster_redis_down",
            "1 while this node knows Redis down (operations fail at once but for a probe)",
            value=int(link.down),
        )


class ConnectionsCollector:
    """Reads the TCP connections' statistics at scrape time (added by serve.py, which runs
    them)."""

    def __init__(self, statistics: Callable[[], ConnectionsStatistics]) -> None:
        self._statistics = statistics

    def collect(self) -> Iterator[Metric]:
        stats = self._statistics()
        yield GaugeMetricFamily(
            "chatactors_tcp_connections", "Open TCP connections (HTTP and WebSocket)", stats.open
        )
        counters = {
            "chatactors_tcp_refused_per_client": (
                "Connections reset at once: their address had max_connections_per_client open",
                stats.refused_per_client,
            ),
            "chatactors_tcp_shed_out_of_descriptors": (
                "Connections reset unserved while the process had no descriptor left (EMFILE)",
                stats.shed_out_of_descriptors,
            ),
            "chatactors_tcp_write_timeouts": (
                "Connections reset because their peer read nothing for write_timeout_s",
                stats.write_timeouts,
            ),
        }
        for name, (doc, value) in counters.items():
            yield CounterMetricFamily(name, doc, value=value)


def open_web_metrics(chats: ChatRegistry, node: ClusterNode | None = None) -> WebMetrics:
    registry = CollectorRegistry()
    metrics = WebMetrics(
        registry=registry,
        connections=Gauge(
            "chatactors_websocket_connections", "Open WebSocket connections", registry=registry
        ),
        disconnects=Counter(
            "chatactors_websocket_disconnects",
            "WebSocket connections ended, by reason",
            ["reason"],
            registry=registry,
        ),
        send_latency=Histogram(
            "chatactors_send_latency_seconds",
            "Time to store and broadcast a message, as the sender waits for it",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=registry,
        ),
    )
    registry.register(_RegistryCollector(chats))
    if node is not None:
        registry.register(_ClusterCollector(node))
    return metrics
