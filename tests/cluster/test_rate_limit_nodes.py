"""Send limits across two real node processes: a user posting through both nodes is limited
to the configured rate for the cluster, not twice it."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from chatactors.web.auth import issue_token
from tests.cluster.nodes import cluster_nodes
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow

SECRET = "cluster-rate-limit-test-secret-" + "x" * 16
BURST = 4
#: Slow enough that nothing refills while the test posts (a few seconds at most).
RATE_PER_S = 0.05
LIMITS = ("--auth-enabled", "--auth-secret", SECRET,
          "--rate-limit-per-s", str(RATE_PER_S), "--rate-limit-burst", str(BURST))  # fmt: skip


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, user, ttl_s=600)}"}


async def test_a_user_posting_through_two_nodes_gets_the_clusters_rate_not_twice_it(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with trio.fail_after(90):
        async with (
            cluster_nodes(redis_server, tmp_path / "data", extra=LIMITS) as nodes,
            nodes["a"].http(headers=bearer("ann")) as a,
            nodes["b"].http(headers=bearer("ann")) as b,
        ):
            created = await a.post("/chats", json={"participants": ["ann", "bob"]})
            chat_id = created.json()["chat_id"]
            assert (await a.get(f"/chats/{chat_id}/messages")).status_code == 200  # A owns it
            responses = []
            for i in range(3 * BURST):
                body = {"user_id": "ann", "type": "text", "content": f"m{i}"}
                responses.append(await (a, b)[i % 2].post(f"/chats/{chat_id}/messages", json=body))
            statuses = [response.status_code for response in responses]
            # Each node alone would have let its own burst through (8 of 12).
            assert statuses == [200] * BURST + [429] * (2 * BURST), statuses
            for refused in responses[BURST:]:
                assert int(refused.headers["Retry-After"]) >= 1
                assert "detail" in refused.json()
            history = (await b.get(f"/chats/{chat_id}/messages")).json()
            assert len(history) == BURST
