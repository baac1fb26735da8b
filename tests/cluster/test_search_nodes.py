"""Search and mentions in cluster mode: any node answers a search from the shared store, and a
mention made through one node reaches a user socket on the other as a message with its
mentions, counted in that node's chat list.

Real ``chatactors serve`` processes on one SQLite file and one real Redis, real time, every wait
bounded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.cluster.nodes import post_until_accepted, two_nodes
from tests.harness.user_client import V1, UserClient
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow


async def test_a_mention_through_one_node_is_found_and_delivered_through_the_other(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with trio.fail_after(120):
        async with two_nodes(redis_server, tmp_path / "data") as run:
            nodes, a, b, chat_id = run.nodes, run.a, run.b, run.chat_id
            async with nodes["b"].socket("/ws?user_id=bob", subprotocols=V1) as ws:
                bob = UserClient(ws)
                await bob.ready()
                body = {"user_id": "ann", "type": "text", "content": "@bob the rendezvous"}
                sent = (await post_until_accepted(a, chat_id, body)).json()["message"]
                delivered = await bob.next(lambda e: e["event"] == "message_received")
            assert delivered["data"] == sent
            assert sent["mentions"] == ["bob"]
            # Acknowledged by node a, so in the shared store: node b finds it at once.
            found = await b.get("/search", params={"user_id": "bob", "q": "rendezvous"})
            assert [hit["message"]["id"] for hit in found.json()["results"]] == [sent["id"]]
            (listed,) = (await b.get("/chats", params={"user_id": "bob"})).json()
            assert listed["unread_mentions"] == 1
