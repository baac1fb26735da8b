"""Health, readiness and metrics."""

from __future__ import annotations

import contextlib

from quart.typing import TestClientProtocol as Client

from tests.harness.asgi_socket import open_socket


async def test_healthz_and_readyz(client: Client) -> None:
    assert await (await client.get("/healthz")).get_json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert (await ready.get_json())["status"] == "ready"


async def test_metrics_count_messages_connections_and_latency(client: Client) -> None:
    chat = await (await client.post("/chats", json={"participants": ["a"]})).get_json()
    for text in ("one", "two"):
        await client.post(f"/chats/{chat['chat_id']}/messages",
                          json={"user_id": "a", "type": "text", "content": text})  # fmt: skip
    async with open_socket(client.app, "/ws/nope") as ws:
        with contextlib.suppress(Exception):
            await ws.receive()
    body = await (await client.get("/metrics")).get_data(as_text=True)
    metrics = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in body.splitlines()
        if line and not line.startswith("#")
    }
    assert metrics["chatactors_messages_total"] == 2
    assert metrics["chatactors_active_actors"] == 1
    assert metrics["chatactors_send_latency_seconds_count"] == 2
    assert metrics['chatactors_websocket_disconnects_total{reason="refused"}'] == 1
    assert metrics["chatactors_websocket_connections"] == 0
