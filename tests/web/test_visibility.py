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
    metrics = scraped(await (await client.get("/metrics")).get_data(as_text=True))
    assert metrics["chatactors_messages_total"] == 2
    assert metrics["chatactors_active_actors"] == 1
    assert metrics["chatactors_send_latency_seconds_count"] == 2
    assert metrics['chatactors_websocket_disconnects_total{reason="refused"}'] == 1
    assert metrics["chatactors_websocket_connections"] == 0


def scraped(body: str) -> dict[str, float]:
    """The samples of a /metrics answer, by name (with labels)."""
    return {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in body.splitlines()
        if line and not line.startswith("#")
    }


async def test_metrics_read_what_the_actors_counted(client: Client) -> None:
    chat = await (await client.post("/chats", json={"participants": ["alice", "bob"]})).get_json()
    chat_id = chat["chat_id"]
    async with open_socket(client.app, f"/ws/{chat_id}?user_id=alice") as ws:
        assert (await ws.receive_json())["event"] == "presence_updated"
        for text in ("one", "two"):
            await client.post(f"/chats/{chat_id}/messages",
                              json={"user_id": "bob", "type": "text", "content": text})  # fmt: skip
            assert (await ws.receive_json())["event"] == "message_received"
        metrics = scraped(await (await client.get("/metrics")).get_data(as_text=True))
    registry = {name: value for name, value in metrics.items() if "websocket" not in name
                and "send_latency" not in name}  # fmt: skip
    assert registry == {
        "chatactors_active_actors": 1,
        "chatactors_subscribers": 1,
        "chatactors_inbox_queued_requests": 0,
        # alice's socket subscribed, then bob posted twice
        "chatactors_actor_commands_total": 3,
        "chatactors_messages_total": 2,
        # alice came online, then two messages: each offered to her socket
        "chatactors_events_total": 3,
        "chatactors_event_deliveries_total": 3,
        "chatactors_lagged_subscribers_total": 0,
        "chatactors_actor_activations_total": 1,
        "chatactors_actor_deactivations_total": 0,
        "chatactors_actor_crashes_total": 0,
        "chatactors_actor_reloads_total": 0,
        "chatactors_user_feeds": 0,
        "chatactors_chats_announced_total": 0,
        "chatactors_user_feeds_dropped_total": 0,
    }


async def test_metrics_read_what_the_user_feeds_counted(client: Client) -> None:
    async with open_socket(client.app, "/ws?user_id=carol") as ws:
        assert [frame["event"] for frame in await ws.receive_json()] == ["ready"]
        await client.post("/chats", json={"participants": ["alice", "carol"]})
        assert [frame["event"] for frame in await ws.receive_json()] == ["chat_created"]
        metrics = scraped(await (await client.get("/metrics")).get_data(as_text=True))
    assert metrics["chatactors_user_feeds"] == 1
    assert metrics["chatactors_chats_announced_total"] == 1
    assert metrics["chatactors_user_feeds_dropped_total"] == 0
