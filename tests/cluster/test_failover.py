"""Failover between node processes: a node SIGKILLed, a node paused past its lease.

Real processes, a real ``redis-server``, one SQLite file. Posters retry a 503 with the same
``client_message_id`` (as clients following Retry-After do), so every post is acknowledged
exactly once in the end; what must hold is that none is lost or stored twice, that seq has no
gap, and that a socket on a surviving node sees every message once, in order.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import trio
import trio_websocket

from tests.cluster.nodes import (
    LEASE_TTL_S,
    cluster_nodes,
    new_chat,
    post_until_accepted,
    presence_everywhere,
    two_nodes,
)
from tests.harness.clients import is_event, metric, next_event
from tests.harness.server_process import ServerProcess
from tests.harness.waiting import wait_until_async
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow

POSTS = 40


async def post_all(
    client: httpx.AsyncClient,
    chat_id: str,
    acked: list[dict[str, Any]],
    halfway: trio.Event,
    posts: range = range(POSTS),
) -> None:
    for i in posts:
        body = {"user_id": "bob", "type": "text", "content": f"#{i}", "client_message_id": f"c{i}"}
        response = await post_until_accepted(client, chat_id, body, timeout_s=LEASE_TTL_S + 20)
        assert response.status_code == 200, response.text
        acked.append(response.json()["message"])
        if i == posts[len(posts) // 2]:
            halfway.set()


async def watch(
    node: ServerProcess, chat_id: str, seqs: list[int], *, task_status: trio.TaskStatus[None]
) -> None:
    """ann's socket on ``node``: record every message's seq until all POSTS arrived."""
    async with node.socket(f"/ws/{chat_id}?user_id=ann") as ws:
        await next_event(ws, is_event("presence_updated", user_id="ann", status="online"))
        task_status.started()
        with trio.fail_after(LEASE_TTL_S + 40):
            while len(seqs) < POSTS:
                try:
                    event = orjson.loads(await ws.get_message())
                except trio_websocket.ConnectionClosed as closed:
                    raise AssertionError(f"socket closed: {closed.reason}") from None
                if event["event"] == "message_received":
                    seqs.append(event["data"]["seq"])


def assert_exactly_once(acked: list[dict[str, Any]], history: list[dict[str, Any]]) -> None:
    assert [m["seq"] for m in history] == list(range(1, POSTS + 1))
    assert sorted(m["content"] for m in history) == sorted(f"#{i}" for i in range(POSTS))
    stored = {m["id"]: m for m in history}
    for message in acked:
        assert stored[message["id"]]["seq"] == message["seq"]


async def test_the_owner_sigkilled_while_posting_through_another_node(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with trio.fail_after(120):
        async with two_nodes(redis_server, tmp_path / "data") as run:
            nodes, a, b, chat_id = run.nodes, run.a, run.b, run.chat_id
            # Node A activates the chat; B forwards to it until A dies.
            assert (await a.get(f"/chats/{chat_id}/messages")).status_code == 200
            acked: list[dict[str, Any]] = []
            seqs: list[int] = []
            halfway = trio.Event()
            async with trio.open_nursery() as nursery:
                await nursery.start(watch, nodes["b"], chat_id, seqs)
                nursery.start_soon(post_all, b, chat_id, acked, halfway)
                await halfway.wait()
                await nodes["a"].kill()
            history = (await b.get(f"/chats/{chat_id}/messages")).json()
            assert_exactly_once(acked, history)
            # The socket on the surviving node never reconnected and missed nothing.
            assert seqs == list(range(1, POSTS + 1))


async def test_a_paused_owner_never_writes_nor_delivers_a_stale_event(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with trio.fail_after(120):
        async with two_nodes(redis_server, tmp_path / "data") as run:
            nodes, a, b, chat_id = run.nodes, run.a, run.b, run.chat_id
            assert (await a.get(f"/chats/{chat_id}/messages")).status_code == 200
            acked: list[dict[str, Any]] = []
            seqs: list[int] = []
            halfway, also_halfway = trio.Event(), trio.Event()
            async with trio.open_nursery() as nursery:
                await nursery.start(watch, nodes["b"], chat_id, seqs)
                # Half the posts go to the paused node itself: they wait in its socket buffers
                # and run when it wakes up, after its lease has gone to node B.
                nursery.start_soon(post_all, b, chat_id, acked, halfway, range(0, POSTS, 2))
                nursery.start_soon(post_all, a, chat_id, acked, also_halfway, range(1, POSTS, 2))
                await halfway.wait()
                nodes["a"].send_signal(signal.SIGSTOP)
                await trio.sleep(LEASE_TTL_S + 2)  # past the lease: B takes the chat over
                nodes["a"].send_signal(signal.SIGCONT)
            history = (await b.get(f"/chats/{chat_id}/messages")).json()
            assert_exactly_once(acked, history)
            assert seqs == list(range(1, POSTS + 1))
            assert await metric(a, "chatactors_cluster_lease_losses_total") >= 1


async def test_redis_restarted_mid_run_answers_503_then_recovers(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with trio.fail_after(120):
        async with two_nodes(redis_server, tmp_path / "data") as run:
            a, b, chat_id = run.a, run.b, run.chat_id
            acked: list[dict[str, Any]] = []
            halfway = trio.Event()
            refused: list[int] = []
            async with trio.open_nursery() as nursery:
                nursery.start_soon(post_all, b, chat_id, acked, halfway)
                await halfway.wait()
                redis_server.stop()
                # While Redis is down, anything needing the directory is refused, not hung.
                for client in (a, b):
                    response = await client.get(f"/chats/{chat_id}/read")
                    refused.append(response.status_code)
                    if response.status_code == 503:
                        assert "Retry-After" in response.headers
                ready = [(await client.get("/readyz")).status_code for client in (a, b)]
                await trio.sleep(1)  # an outage that lasts a while: time passing is the point
                redis_server.start()
            assert 503 in refused
            assert ready == [503, 503]

            # Each node is ready again once its next probe of Redis answers (within its
            # backoff, a second at most); until then a read may be refused with 503.
            async def both_ready() -> bool:
                return [(await c.get("/readyz")).status_code for c in (a, b)] == [200, 200]

            await wait_until_async(both_ready, 10, "both nodes ready")
            history = (await a.get(f"/chats/{chat_id}/messages")).json()
            assert_exactly_once(acked, history)


@pytest.mark.parametrize("new_owner", ["b", "c"])
async def test_a_socket_on_a_surviving_node_stays_online_when_the_owner_dies(
    redis_server: RedisServer, tmp_path: Path, new_owner: str
) -> None:
    with trio.fail_after(120):
        async with (
            cluster_nodes(redis_server, tmp_path / "data", ("a", "b", "c")) as nodes,
            nodes["a"].http() as a,
            nodes["b"].http() as b,
            nodes["c"].http() as c,
        ):
            chat_id = await new_chat(a)
            assert (await a.get(f"/chats/{chat_id}/messages")).status_code == 200
            async with nodes["b"].socket(f"/ws/{chat_id}?user_id=ann") as ann:
                await next_event(ann, is_event("presence_updated", user_id="ann", status="online"))
                await presence_everywhere([a, b, c], chat_id, "ann", "online", timeout_s=10)
                await nodes["a"].kill()
                # The chat is activated again (on B or C) by a post through that node.
                body = {"user_id": "bob", "type": "text", "content": "after"}
                survivor = {"b": b, "c": c}[new_owner]
                response = await post_until_accepted(survivor, chat_id, body)
                assert response.status_code == 200, response.text
                # ann's socket on B never reconnected: she is online at the new owner,
                # and got the message.
                await presence_everywhere([b, c], chat_id, "ann", "online", timeout_s=15)
                await next_event(ann, is_event("message_received", content="after"))
            # Her socket closed: offline, as registered with the new owner.
            await presence_everywhere([b, c], chat_id, "ann", "offline", timeout_s=15)
            assert await metric(b, "chatactors_cluster_sockets_reregistered_total") == 1
