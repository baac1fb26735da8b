"""Liveness (/healthz), readiness (/readyz) and Prometheus metrics (/metrics) for operators."""

from __future__ import annotations

from typing import Literal

import msgspec
import trio
from msgspec import UNSET, UnsetType
from quart import Blueprint, Response, current_app

from chatactors.domain.errors import ChatUnavailable
from chatactors.storage.store import StoreNotAnswering
from chatactors.web.operations import Answer, Content, operation
from chatactors.web.services import services, services_of
from chatactors.web.wire import json_response

blueprint = Blueprint("health", __name__)


class LiveOut(msgspec.Struct, frozen=True):
    status: Literal["ok"]


class ReadyOut(msgspec.Struct, frozen=True):
    status: Literal["ready", "unavailable"]
    #: What is not ready (with ``unavailable``).
    detail: str | UnsetType = UNSET


@blueprint.get("/healthz")
@operation(LiveOut, "The process serves HTTP", may_be_unavailable=False)
async def healthz() -> Response:
    """The process serves HTTP."""
    return json_response({"status": "ok"})


@blueprint.get("/readyz")
@operation(
    ReadyOut,
    "Ready",
    answers={503: Answer("Not ready, and what is not", ReadyOut)},
)
async def readyz() -> Response:
    """The store answers (and, after a failed write, takes writes again), Redis answers (in
    cluster mode), and the server takes commands (not starting, not shutting down)."""
    running = services_of(current_app)
    if running is None or running.registry.closing:
        return json_response({"status": "unavailable", "detail": "not serving"}, 503)
    try:
        # Bounded whatever the store does: a check that hangs is given up on (its thread runs
        # on), and while one still hangs the store says so at once (StoreNotAnswering).
        with trio.fail_after(running.settings.readiness_timeout_s):
            await running.store.check_ready()
    except (trio.TooSlowError, StoreNotAnswering):
        return json_response({"status": "unavailable", "detail": "store: not answering"}, 503)
    except Exception as error:
        return json_response({"status": "unavailable", "detail": f"store: {error}"}, 503)
    if running.cluster is not None:
        link = running.cluster.link
        try:
            await link.execute("PING")
        except ChatUnavailable:
            return json_response({"status": "unavailable", "detail": "redis: unreachable"}, 503)
    return json_response({"status": "ready"})


@blueprint.get("/metrics")
@operation(
    Content({"text/plain": {"schema": {"type": "string"}}}),
    "The metrics, in Prometheus' text format",
)
async def metrics() -> Response:
    body, content_type = services().metrics.render()
    return Response(body, content_type=content_type)
