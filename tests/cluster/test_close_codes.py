"""Close codes that say what happened, with node processes and a real Redis.

A node paused (SIGSTOP) past its lease closes the sockets of the chats it lost with 1012
(reconnect: the chat is served elsewhere), not 1001 (this server is not going away), and logs
the pause, not a Redis outage. Sockets refused while Redis is down close with 1013 (try again
later), not 1011 (no server bug happened).
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import trio
import trio_websocket

from tests.cluster.nodes import LEASE_TTL_S, post_until_accepted, two_nodes
from tests.harness.clients import is_event, next_event, wait_closed
from tests.harness.user_client import V1
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow


async def test_a_paused_node_closes_the_chats_it_lost_with_1012_and_logs_its_pause(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with trio.fail_after(120):
        async with two_nodes(redis_server, tmp_path / "data") as run:
            node_a, chat_id = run.nodes["a"], run.chat_id
            assert (await run.a.get(f"/chats/{chat_id}/messages")).status_code == 200  # A owns it
            async with (
                node_a.socket(f"/ws/{chat_id}?user_id=ann") as ann,
                node_a.socket("/ws?user_id=bob", subprotocols=V1) as bob,
            ):
                await next_event(ann, is_event("presence_updated", user_id="ann", status="online"))
                with trio.fail_after(10):
                    assert "ready" in await bob.get_message()
                node_a.send_signal(signal.SIGSTOP)
                try:
                    await trio.sleep(LEASE_TTL_S + 2)  # past the lease, as a pause would last
                finally:
                    node_a.send_signal(signal.SIGCONT)
                closed = [await wait_closed(ann), await wait_closed(bob)]
            assert [(reason.code, reason.reason) for reason in closed] == [(1012, "moved")] * 2
            log = node_a.log()
            assert "lease lost (not renewed in time: this node stalled (paused" in log, log
            assert "unreachable" not in log, log  # Redis was fine all along
            # The chat works again, through either node.
            body = {"user_id": "bob", "type": "text", "content": "after the pause"}
            assert (await post_until_accepted(run.a, chat_id, body)).status_code == 200


async def test_sockets_refused_while_redis_is_down_close_with_1013(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with trio.fail_after(120):
        async with two_nodes(redis_server, tmp_path / "data") as run:
            node_b, chat_id = run.nodes["b"], run.chat_id  # nobody holds the chat yet
            redis_server.stop()
            try:
                async with node_b.socket(f"/ws/{chat_id}?user_id=ann") as ann:
                    refused = await wait_closed(ann, timeout_s=30)
                async with node_b.socket("/ws?user_id=ann", subprotocols=V1) as user_socket:
                    refused_user = await wait_closed(user_socket, timeout_s=30)
            finally:
                redis_server.start()
            assert refused.code == 1013, refused
            assert refused_user.code == 1013, refused_user
            # The control: once Redis is back (and the node's connections with it), the same
            # socket opens.
            for _ in range(50):
                async with node_b.socket(f"/ws/{chat_id}?user_id=ann") as ann:
                    try:
                        await next_event(ann, is_event("presence_updated", user_id="ann"))
                        break
                    except trio_websocket.ConnectionClosed:
                        await trio.sleep(0.2)
            else:
                raise AssertionError("the socket was still refused once Redis was back")
