"""Members who join and leave across cluster nodes, with real node processes: a member removed
through node A loses the chat through node B at once (REST refused the moment A answered; their
sockets on both nodes closed with 4403 after the line that removed them; their user socket on B
told ``chat_removed``, kept open, and given nothing of the chat after it); a member added
through B is announced the chat on A.

Policy: two ``chatactors serve`` processes over one Redis and one store (SQLite file or
PostgreSQL), real sockets; every wait is bounded. "At once" is asserted without waiting: the
requests to B are made right after A's answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import trio
import trio_websocket

from tests.cluster.nodes import cluster_nodes, new_chat
from tests.harness.chat_client import ChatClient
from tests.harness.clients import WAIT_S, wait_closed
from tests.harness.user_client import V1, Event, UserClient
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow


def text(user: str, content: str) -> dict[str, str]:
    return {"user_id": user, "type": "text", "content": content}


async def first_message(ws: trio_websocket.WebSocketConnection) -> dict[str, Any]:
    """The next message on a reference socket (presence and read events skipped)."""
    with trio.fail_after(WAIT_S):
        while True:
            event: dict[str, Any] = orjson.loads(await ws.get_message())
            if event["event"] == "message_received":
                return event


async def until_message(client: ChatClient, content: str) -> list[Event]:
    return [e for e in await client.until(content) if e["event"] != "presence_updated"]


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
async def test_a_member_removed_through_one_node_loses_the_chat_through_the_other_at_once(
    redis_server: RedisServer, tmp_path: Path, request: pytest.FixtureRequest, store: str
) -> None:
    database_url = request.getfixturevalue("database_url") if store == "postgres" else None
    with trio.fail_after(120):
        async with (
            cluster_nodes(redis_server, tmp_path / "data", database_url=database_url) as nodes,
            nodes["a"].http() as a,
            nodes["b"].http() as b,
        ):
            chat_id = await new_chat(a, "alice", "bob", "carol")
            other = await new_chat(b, "bob", "dave")
            # Owned by A (prefer-local placement): B's sockets listen on the bus.
            assert (await a.get(f"/chats/{chat_id}/messages")).status_code == 200
            assert (await b.get(f"/chats/{other}/messages")).status_code == 200
            path = f"/ws/{chat_id}?user_id="
            async with (
                nodes["b"].socket(path + "bob", subprotocols=V1) as bob_v1_ws,
                nodes["b"].socket(path + "bob") as bob_reference,
                nodes["a"].socket(path + "bob", subprotocols=V1) as bob_on_a_ws,
                nodes["b"].socket("/ws?user_id=bob", subprotocols=V1) as bob_user_ws,
                nodes["b"].socket(path + "carol", subprotocols=V1) as carol_ws,
            ):
                bob_v1, bob_on_a = ChatClient(bob_v1_ws), ChatClient(bob_on_a_ws)
                bob_user, carol = UserClient(bob_user_ws), ChatClient(carol_ws)
                for client in (bob_v1, bob_on_a, carol):
                    await client.subscribed()
                assert set((await bob_user.ready())["chats"]) == {chat_id, other}
                # Registered at the owner: a message sent now reaches every one of them.
                assert (await a.post(f"/chats/{chat_id}/messages",
                                     json=text("alice", "before"))).status_code == 200  # fmt: skip
                for client in (bob_v1, bob_on_a, carol):
                    await client.until("before")
                assert (await first_message(bob_reference))["data"]["content"] == "before"

                removed = await a.delete(f"/chats/{chat_id}/participants/bob?user_id=alice")
                assert removed.status_code == 200
                # At once, through the other node: every route refused, the chat gone from
                # bob's list.
                await refused_everywhere(b, chat_id)
                await refused_everywhere(a, chat_id)
                listed = (await b.get("/chats?user_id=bob")).json()
                assert [c["chat_id"] for c in listed] == [other]

                sent = await a.post(f"/chats/{chat_id}/messages", json=text("alice", "after"))
                assert sent.status_code == 200
                # bob's chat sockets, on both nodes: the line that removed him, then 4403.
                for client in (bob_v1, bob_on_a):
                    line = [e for e in await client.until("alice removed bob")
                            if e["event"] == "message_received"]  # fmt: skip
                    assert [e["data"]["content"] for e in line] == ["alice removed bob"]
                    assert (await wait_closed(client.ws)).code == 4403
                reference_line = await first_message(bob_reference)
                assert reference_line["data"]["content"] == "alice removed bob"
                assert (await wait_closed(bob_reference)).code == 4403
                # carol, on B too, stays and sees the change, then what came after.
                assert [e["event"] for e in await until_message(carol, "after")] == [
                    "message_received", "chat_updated", "message_received",
                ]  # fmt: skip
                # bob's user socket on B: the chat dropped, the socket open for his others.
                seen: list[Event] = []
                dropped = await bob_user.next(lambda e: e["event"] == "chat_removed", seen=seen)
                assert dropped["chat_id"] == chat_id
                assert (await b.post(f"/chats/{other}/messages",
                                     json=text("dave", "marker"))).status_code == 200  # fmt: skip
                marker = await bob_user.next(lambda e: e["event"] == "message_received", seen=seen)
                assert (marker["chat_id"], marker["data"]["content"]) == (other, "marker")
                from_chat = [e for e in seen if e["chat_id"] == chat_id]
                assert [e["data"].get("content") for e in from_chat
                        if e["event"] == "message_received"] == [
                    "before", "alice removed bob",  # and nothing after it: not "after"
                ]  # fmt: skip
            async with nodes["b"].socket(path + "bob", subprotocols=V1) as again:
                assert (await wait_closed(again)).code == 4403


async def refused_everywhere(node: httpx.AsyncClient, chat_id: str) -> None:
    base = f"/chats/{chat_id}"
    answers = [
        await node.post(f"{base}/messages", json=text("bob", "still here?")),
        await node.get(f"{base}/messages?user_id=bob"),
        await node.get(f"{base}?user_id=bob"),
        await node.get(f"{base}/presence?user_id=bob"),
        await node.post(f"{base}/read", json={"user_id": "bob"}),
        await node.patch(base, json={"user_id": "bob", "title": "mine"}),
    ]
    assert [r.status_code for r in answers] == [403] * len(answers)


async def test_a_member_added_through_one_node_is_announced_on_the_other(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with trio.fail_after(90):
        async with (
            cluster_nodes(redis_server, tmp_path / "data") as nodes,
            nodes["a"].http() as a,
            nodes["b"].http() as b,
        ):
            chat_id = await new_chat(a, "alice", "bob", "carol")
            assert (await a.get(f"/chats/{chat_id}/messages")).status_code == 200
            async with nodes["a"].socket("/ws?user_id=dave", subprotocols=V1) as ws:
                dave = UserClient(ws)
                assert (await dave.ready())["chats"] == {}
                added = await b.post(
                    f"/chats/{chat_id}/participants",
                    json={"user_id": "bob", "participants": ["dave"]},
                )
                assert added.status_code == 200
                created = await dave.next(lambda e: e["event"] == "chat_created")
                assert created["chat_id"] == chat_id
                assert created["data"]["last_message"]["content"] == "bob added dave"
                named = await b.patch(f"/chats/{chat_id}", json={"user_id": "dave", "title": "4"})
                assert named.status_code == 200
                updated = await dave.next(lambda e: e["event"] == "chat_updated")
                assert (updated["chat_id"], updated["data"]["title"]) == (chat_id, "4")
            info = (await a.get(f"/chats/{chat_id}?user_id=dave")).json()
            assert info["participants"] == ["alice", "bob", "carol", "dave", "bot_user"]
