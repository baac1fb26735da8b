"""No error from Redis or a chat's activation takes a node's services down, and if the services
die anyway, the process exits non-zero (for its supervisor to start it again) instead of
running on and answering 500.

Real node processes. The first test is what once killed a node: a lease claim that Redis
refused with READONLY (it had been made a replica). The second injects a fault no part
contains (``faulty_node.py``): the process must stop within a bound, exit 1, and answer
nothing but 200 or 503 until then.
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
import trio

from tests.cluster.nodes import new_chat, node_args, post_until_accepted
from tests.harness.clients import metric
from tests.harness.server_process import open_server_process
from tests.redis_server import RedisServer, start_redis_server

pytestmark = pytest.mark.slow

FAULTY_NODE = "tests.cluster.faulty_node"  # run from the root, so it imports tests.harness


async def test_a_refused_lease_claim_fails_the_chat_not_the_node(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    primary = start_redis_server()
    with trio.fail_after(60):
        async with (
            open_server_process(*node_args(redis_server, "a"), data_dir=tmp_path) as node,
            node.http() as client,
        ):
            chat_id = await new_chat(client)
            try:
                redis_server.command("REPLICAOF", "127.0.0.1", primary.port)
                # The chat is not active yet: activating it claims its lease, which Redis
                # refuses (READONLY): 503 with Retry-After, not 500.
                body = {"user_id": "ann", "type": "text", "content": "during"}
                refused = await client.post(f"/chats/{chat_id}/messages", json=body)
                assert refused.status_code == 503, refused.text
                assert "Retry-After" in refused.headers
                assert await metric(client, "chatactors_cluster_redis_outages_total") >= 1
            finally:
                redis_server.command("REPLICAOF", "NO", "ONE")
                primary.remove()
            # The node still serves, and the chat works once Redis is writable again.
            body = {"user_id": "ann", "type": "text", "content": "after"}
            accepted = await post_until_accepted(client, chat_id, body)
            assert accepted.status_code == 200, accepted.text
            assert node.running()
            assert await metric(client, "chatactors_cluster_redis_down") == 0
            assert await metric(client, "chatactors_actor_crashes_total") == 0


async def test_services_that_die_stop_the_process_with_status_1(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trigger = tmp_path / "fault"
    monkeypatch.setenv("FAULT_FILE", str(trigger))
    statuses: set[int] = set()
    with trio.fail_after(60):
        async with open_server_process(
            *node_args(redis_server, "a"),
            data_dir=tmp_path / "data",
            wrapper=[sys.executable, "-m", FAULTY_NODE],
        ) as node:
            async with node.http() as client:
                chat_id = await new_chat(client)
                assert (await client.get(f"/chats/{chat_id}/messages")).status_code == 200
                trigger.touch()
                # Until it exits, every answer is a 200 or a 503, never a 500.
                while node.running():
                    try:
                        response = await client.get(f"/chats/{chat_id}/messages")
                    except httpx.TransportError:
                        break  # stopped listening: it is exiting
                    statuses.add(response.status_code)
                    await trio.sleep(0.05)
            assert await node.wait() == 1
    assert statuses <= {200, 503}
    assert "the services stopped while serving" in node.log()
