"""Liveness (/healthz) and readiness (/readyz) for load balancers and orchestrators."""

from __future__ import annotations

import trio
from quart import Blueprint, Response, current_app

from chatactors.web.lifespan import EXTENSION_KEY, Services
from chatactors.web.wire import json_response

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
async def healthz() -> Response:
    """The process serves HTTP."""
    return json_response({"status": "ok"})


@blueprint.get("/readyz")
async def readyz() -> Response:
    """The store answers and the server takes commands (not starting, not shutting down)."""
    running: Services | None = current_app.extensions.get(EXTENSION_KEY)
    if running is None or running.registry.closing:
        return json_response({"status": "unavailable", "detail": "not serving"}, 503)
    try:
        with trio.fail_after(2):
            await running.store.check_ready()
    except Exception as error:
        return json_response({"status": "unavailable", "detail": f"store: {error}"}, 503)
    return json_response({"status": "ready"})
