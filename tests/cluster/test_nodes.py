"""Two and three ``chatactors serve`` processes as cluster nodes, over one store and one Redis.

Real processes on free ports, a real ``redis-server`` and a shared SQLite file (WAL: several
processes on one machine, fenced in the same file). Redis and the processes run in real time,
so every wait is bounded with ``trio.fail_after``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from tests.cluster.nodes import post_until_accepted, two_nodes
from tests.harness.clients import is_event, metric, next_event
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow


def text_body(user: str, content: str) -> dict[str, str]:
    return {"user_id": user, "type": "text", "content": content}


def is_bot_presence(event: dict[str, Any]) -> bool:
    return bool(event["event"] == "presence_updated" and event["data"]["user_id"] == "bot_user")


async def test_posts_through_either_node_land_in_one_order_seen_alike_on_both(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with trio.fail_after(90):
        async with two_nodes(redis_server, tmp_path / "data") as run:
            a, b, chat_id = run.a, run.b, run.chat_id
            acked: list[dict[str, Any]] = []

            async def post(client: httpx.AsyncClient, user: str) -> None:
                for i in range(15):
                    body = {"user_id": user, "type": "text", "content": f"{user} {i}",
                            "client_message_id": f"{user}-{i}"}  # fmt: skip
                    response = await post_until_accepted(client, chat_id, body)
                    assert response.status_code == 200, response.text
                    acked.append(response.json()["message"])

            async with trio.open_nursery() as nursery:
                nursery.start_soon(post, a, "ann")
                nursery.start_soon(post, b, "bob")
            histories = []
            for client in (a, b):
                response = await client.get(f"/chats/{chat_id}/messages")
                assert response.status_code == 200
                histories.append(response.json())
            assert histories[0] == histories[1]
            assert len(histories[0]) == 30
            assert sorted(m["id"] for m in acked) == sorted(m["id"] for m in histories[0])
            assert sorted(int(m["seq"]) for m in acked) == list(range(1, 31))
            # One actor served the chat: each user's own posts keep their order.
            for user in ("ann", "bob"):
                mine = [m["content"] for m in histories[0] if m["user_id"] == user]
                assert mine == [f"{user} {i}" for i in range(15)]
            # One node held the chat; the other forwarded its user's posts there.
            forwarded = [await metric(c, "chatactors_cluster_forwarded_commands_total")
                         for c in (a, b)]  # fmt: skip
            claims = [await metric(c, "chatactors_cluster_lease_claims_total") for c in (a, b)]
            assert sorted(claims) == [0, 1]
            assert forwarded[claims.index(0)] >= 15
            # Every PUBLISH (forwards, answers, events) went through the node's publisher.
            for client in (a, b):
                sent = await metric(client, "chatactors_cluster_publish_messages_total")
                batches = await metric(client, "chatactors_cluster_publish_batches_total")
                assert sent >= 15
                assert 1 <= batches <= sent


async def test_users_on_two_nodes_get_every_event_once_in_order(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with trio.fail_after(90):
        # A short presence grace: bob's going offline is seen without a long wait.
        grace = ("--presence-grace-s", "0.3")
        async with two_nodes(redis_server, tmp_path / "data", bot=True, extra=grace) as run:
            nodes, a, b, chat_id = run.nodes, run.a, run.b, run.chat_id
            path = f"/ws/{chat_id}?user_id="
            async with nodes["a"].socket(path + "ann") as ann:
                await next_event(ann, is_event("presence_updated", user_id="ann", status="online"))
                async with nodes["b"].socket(path + "bob") as bob:
                    for ws in (ann, bob):
                        await next_event(ws, is_event("presence_updated", user_id="bob"))
                    logs: list[list[dict[str, Any]]] = [[], []]
                    sent = (await post_until_accepted(b, chat_id, text_body("ann", "hi"))).json()
                    for ws, log in zip((ann, bob), logs, strict=True):
                        bot_done = is_event(
                            "presence_updated", user_id="bot_user", status="offline"
                        )
                        log.append(await next_event(ws, bot_done, seen=log))
                    read = await a.post(f"/chats/{chat_id}/read", json={"user_id": "bob"})
                    assert read.status_code == 200
                    for ws, log in zip((ann, bob), logs, strict=True):
                        log.append(
                            await next_event(ws, is_event("chat_read", user_id="bob"), seen=log)
                        )
                    assert logs[0] == logs[1]
                    messages = [e["data"] for e in logs[0] if e["event"] == "message_received"]
                    assert messages[0] == sent["message"]
                    assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
                    assert {m["user_id"] for m in messages[1:]} == {"bot_user"}
                    # Exactly one bot sequence, cluster-wide.
                    bot = [e["data"]["status"] for e in logs[0] if is_bot_presence(e)]
                    assert bot[0] == "online"
                    assert bot[-1] == "offline"
                    assert bot.count("online") == 1
                    assert bot.count("offline") == 1
                # bob's socket on node B closed: ann, on node A, sees him go offline.
                await next_event(ann, is_event("presence_updated", user_id="bob", status="offline"))


async def test_a_dead_nodes_sockets_go_offline_in_chats_other_nodes_own(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with trio.fail_after(90):
        # The owner unsubscribes the dead node's sockets; their users' grace then runs as for
        # a socket that closed (a short one here, so that the test waits little).
        grace = ("--presence-grace-s", "0.3")
        async with two_nodes(redis_server, tmp_path / "data", extra=grace) as run:
            nodes, a, chat_id = run.nodes, run.a, run.chat_id
            path = f"/ws/{chat_id}?user_id="
            async with nodes["a"].socket(path + "ann") as ann:
                await next_event(ann, is_event("presence_updated", user_id="ann", status="online"))
                async with nodes["b"].socket(path + "bob"):
                    await next_event(ann, is_event("presence_updated", user_id="bob"))
                    await nodes["b"].kill()
                    await next_event(
                        ann, is_event("presence_updated", user_id="bob", status="offline")
                    )
            assert await metric(a, "chatactors_cluster_sockets_of_dead_nodes_total") == 1
