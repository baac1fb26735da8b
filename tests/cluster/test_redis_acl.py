"""The Redis ACL docs/CLUSTER.md gives for cluster nodes is enough for them: two node processes
logged in as that user serve a chat through both (leases, forwarding, Pub/Sub, the sweep of
dead nodes' sockets), and the same user may do nothing outside ``chatactors:`` keys.

The ACL is read from the doc itself, so that the doc stays true."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import trio

from chatactors.cluster.node import open_cluster_link
from chatactors.cluster.redis import RedisReplyError
from tests.cluster.nodes import LEASE_TTL_S, new_chat, post_until_accepted
from tests.harness.server_process import open_server_process
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow

DOC = Path(__file__).resolve().parents[2] / "docs" / "CLUSTER.md"


def documented_acl() -> list[str]:
    """The arguments of the doc's ``ACL SETUSER chatactors ...`` line."""
    for line in DOC.read_text().splitlines():
        if line.strip().startswith("ACL SETUSER chatactors "):
            return shlex.split(line.strip())[2:]
    raise AssertionError("docs/CLUSTER.md has no 'ACL SETUSER chatactors' line")


async def test_nodes_work_as_the_documented_redis_user(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    acl = [part.replace(">CHANGE-ME", ">s3cret") for part in documented_acl()]
    redis_server.command("ACL", "SETUSER", *acl)
    url = redis_server.url.replace("redis://", "redis://chatactors:s3cret@")
    try:
        node = ("--redis-url", url, "--lease-ttl-s", str(LEASE_TTL_S))
        with trio.fail_after(60):
            async with (
                open_server_process(*node, "--node-id", "a", data_dir=tmp_path) as a,
                open_server_process(*node, "--node-id", "b", data_dir=tmp_path) as b,
                a.http() as through_a,
                b.http() as through_b,
            ):
                chat_id = await new_chat(through_a)
                body = {"user_id": "bob", "type": "text", "content": "#0"}
                assert (await post_until_accepted(through_a, chat_id, body)).status_code == 200
                # Active on a: the socket on b listens to the bus and registers at a.
                async with b.socket(f"/ws/{chat_id}?user_id=ann"):
                    for n, client in enumerate((through_b, through_a), start=1):
                        body = {"user_id": "bob", "type": "text", "content": f"#{n}"}
                        posted = await post_until_accepted(client, chat_id, body)
                        assert posted.status_code == 200, posted.text
                    history = (await through_b.get(f"/chats/{chat_id}/messages")).json()
                    assert [m["content"] for m in history] == ["#0", "#1", "#2"]
                    await trio.sleep(LEASE_TTL_S)  # a sweep of remote sockets (PUBSUB NUMSUB)
                for client in (through_a, through_b):
                    assert (await client.get("/readyz")).status_code == 200
                assert "NOPERM" not in a.log() + b.log()
        async with open_cluster_link(url, timeout_s=1) as link:
            with pytest.raises(RedisReplyError, match="NOPERM"):
                await link.execute("GET", "someone-elses-key")
    finally:
        redis_server.command("ACL", "DELUSER", "chatactors")
