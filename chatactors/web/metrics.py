"""Prometheus metrics at /metrics: sockets, actors, inboxes, messages, events, latency.

Counts that actors keep (messages, events, crashes) are read from the registry's statistics
when scraped, so the hot path pays nothing for them; the web layer counts what only it sees
(connections, disconnect reasons, send latency). Each app has its own collector registry.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from quart import Blueprint, Quart, Response, current_app

from chatactors.web.lifespan import EXTENSION_KEY, Services

METRICS_KEY = "chatactors.metrics"
blueprint = Blueprint("metrics", __name__)


@attrs.define(eq=False)
class WebMetrics:
    registry: CollectorRegistry
    connections: Gauge
    disconnects: Counter
    send_latency: Histogram


class _RegistryCollector:
    """Reads the chat registry's statistics at scrape time."""

    def __init__(self, app: Quart) -> None:
        self._app = app

    def collect(self) -> Iterator[Metric]:
        running: Services | None = self._app.extensions.get(EXTENSION_KEY)
        if running is None:
            return
        stats = running.registry.statistics()
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
        }
        for name, (doc, value) in gauges.items():
            yield GaugeMetricFamily(name, doc, value=value)
        counters = {
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
        }
        for name, (doc, value) in counters.items():
            yield CounterMetricFamily(name, doc, value=value)


def install_metrics(app: Quart) -> WebMetrics:
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
    registry.register(_RegistryCollector(app))
    app.extensions[METRICS_KEY] = metrics
    app.register_blueprint(blueprint)
    return metrics


def web_metrics() -> WebMetrics:
    found: WebMetrics = current_app.extensions[METRICS_KEY]
    return found


@blueprint.get("/metrics")
async def metrics_endpoint() -> Response:
    return Response(generate_latest(web_metrics().registry), content_type=CONTENT_TYPE_LATEST)
