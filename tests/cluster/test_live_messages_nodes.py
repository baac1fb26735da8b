"""Changes to messages in cluster mode: made through either node, each goes through the chat's
one owner, crosses to the other node's sockets as an event with its ``pos``, and a socket that
was away resumes by position on the node that does not own the chat, each change once.

Real ``chatactors serve`` processes on one SQLite file and one real Redis, real time, every wait
bounded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import trio

from tests.cluster.nodes import post_until_accepted, two_nodes
from tests.harness.chat_client import ChatClient, Event, logged
from tests.harness.clients import metric
from tests.harness.user_client import V1, UserClient
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow


def text(user: str, content: str) -> dict[str, str]:
    return {"user_id": user, "type": "text", "content": content}


def is_marker(event: Event) -> bool:
    return bool(event["event"] == "message_received" and event["data"]["content"] == "marker")


async def test_changes_through_either_node_reach_both_in_one_order_and_resume_exactly(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with trio.fail_after(120):
        async with two_nodes(redis_server, tmp_path / "data") as run:
            nodes, a, b, chat_id = run.nodes, run.a, run.b, run.chat_id
            first = (await post_until_accepted(a, chat_id, text("ann", "first"))).json()["message"]
            path = f"/ws/{chat_id}?user_id="
            async with (
                nodes["a"].socket(path + "ann", subprotocols=V1) as ann_ws,
                nodes["b"].socket(path + "bob", subprotocols=V1) as bob_ws,
            ):
                ann, bob = ChatClient(ann_ws), ChatClient(bob_ws)
                for client in (ann, bob):
                    assert (await client.subscribed())["data"]["latest_pos"] == 1
                # Through node b, which does not own the chat (a activated it): over REST...
                message = f"/chats/{chat_id}/messages/{first['id']}"
                edited = await b.patch(message, json={"user_id": "ann", "content": "first!"})
                assert edited.status_code == 200, edited.text
                # ... and over a v1 socket on b.
                reacted = await bob.command(op="react", ref="1", message_id=first["id"], emoji="👍")
                assert reacted["data"]["message"]["reactions"] == {"👍": ["bob"]}
                await post_until_accepted(b, chat_id, text("bob", "marker"))
                logs = [await client.until("marker") for client in (ann, bob)]
            expected = [("message_updated", 2, 1), ("message_updated", 3, 1),
                        ("message_received", 4, 2)]  # fmt: skip
            assert logged(logs[0]) == logged(logs[1]) == expected
            updates = [[e["data"] for e in log if e["event"] == "message_updated"] for log in logs]
            assert updates[0] == updates[1]
            assert await metric(b, "chatactors_cluster_forwarded_commands_total") >= 2

            # Bob is away while the message is edited, deleted and reacted to, through a.
            await a.put(f"{message}/reactions/{quote('🎉')}", json={"user_id": "ann"})
            await a.patch(message, json={"user_id": "ann", "content": "first!!"})
            await post_until_accepted(a, chat_id, text("ann", "while away"))
            deleted = await a.delete(f"{message}?user_id=ann")
            assert deleted.status_code == 200, deleted.text
            replay_expected = [("message_updated", 5, 1), ("message_updated", 6, 1),
                               ("message_received", 7, 3), ("message_updated", 8, 1)]  # fmt: skip

            async with nodes["b"].socket(path + "bob&after_pos=4", subprotocols=V1) as ws:
                bob = ChatClient(ws)
                assert (await bob.subscribed())["data"]["latest_pos"] == 8
                await post_until_accepted(a, chat_id, text("ann", "marker"))
                resumed = await bob.until("marker")
            assert logged(resumed) == [*replay_expected, ("message_received", 9, 4)]

            async with nodes["b"].socket("/ws?user_id=bob", subprotocols=V1) as ws:
                user = UserClient(ws)
                await user.ready()
                await user.command(op="resume", ref="r", positions={chat_id: {"pos": 4}})
                events: list[dict[str, Any]] = []
                ack = await user.next(lambda e: e["event"] == "ack", seen=events)
            assert ack["data"]["replayed"] == {chat_id: 5}
            assert logged(events) == [*replay_expected, ("message_received", 9, 4)]
            gone = [e["data"] for e in events if e["event"] == "message_updated"]
            assert all(data["deleted"] and data["content"] == "" for data in gone)
