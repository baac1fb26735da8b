"""Send limits held for the cluster (``ClusterRateLimiter``) against a real Redis: two nodes'
limiters share one user's budget; a node's own bucket gates floods without asking Redis and
stands in for Redis while it is unreachable."""

from __future__ import annotations

import pytest
import trio

from chatactors.cluster.rate_limits import FALLBACK_S, ClusterRateLimiter, send_key
from chatactors.cluster.redis import RedisLink, open_redis_link
from chatactors.domain.errors import RateLimited
from chatactors.domain.ids import UserId
from chatactors.web.rate_limit import RateLimiter
from tests.redis_server import free_port

ANN = UserId("ann")


def node_limiter(link: RedisLink, *, rate_per_s: float, burst: int) -> ClusterRateLimiter:
    local = RateLimiter(rate_per_s, burst, trio.current_time, max_users=100)
    return ClusterRateLimiter(link, rate_per_s, burst, local)


async def admitted(limiter: ClusterRateLimiter, user: UserId = ANN) -> bool:
    try:
        await limiter.charge(user)
    except RateLimited:
        return False
    return True


async def test_two_nodes_share_one_budget_per_user(link: RedisLink) -> None:
    with trio.fail_after(10):
        nodes = [node_limiter(link, rate_per_s=0.5, burst=5) for _ in range(2)]
        start = trio.current_time()
        results = [await admitted(nodes[i % 2]) for i in range(12)]
        elapsed = trio.current_time() - start
        # Alone, each node would admit its burst: 10. Together they admit the burst once
        # (and what the rate refilled meanwhile: nothing within 2 s).
        assert elapsed < 2
        assert results == [True] * 5 + [False] * 7
        assert sum(node.statistics().checks for node in nodes) == 12
        # Another user has a budget of their own.
        assert await admitted(nodes[0], UserId("bob"))


async def test_a_refusal_says_when_to_retry_and_the_bucket_expires_when_full(
    link: RedisLink,
) -> None:
    with trio.fail_after(10):
        node = node_limiter(link, rate_per_s=2, burst=3)
        for _ in range(3):
            await node.charge(ANN)
        with pytest.raises(RateLimited) as refused:
            await node.charge(ANN)
        assert 0 < refused.value.retry_after_s <= 0.5
        # The key lives only until the bucket would be full again (3 sends at 2/s: 1.5 s).
        assert 0 < await link.execute("PTTL", send_key(ANN)) <= 1500
        await trio.sleep(0.6)  # a token comes back after 0.5 s, on Redis's clock
        await node.charge(ANN)


async def test_a_user_over_the_limit_on_this_node_alone_is_refused_without_asking_redis(
    link: RedisLink,
) -> None:
    with trio.fail_after(10):
        node = node_limiter(link, rate_per_s=0.1, burst=2)
        flood = [await admitted(node) for _ in range(50)]
        assert flood == [True, True] + [False] * 48
        assert (node.statistics().checks, node.statistics().refused_here) == (2, 48)


async def test_while_redis_is_unreachable_each_node_limits_on_its_own() -> None:
    with trio.fail_after(10):
        # Nothing listens there: every connection is refused at once.
        async with open_redis_link(f"redis://127.0.0.1:{free_port()}/0", timeout_s=1) as down:
            node = node_limiter(down, rate_per_s=0.1, burst=3)
            assert [await admitted(node) for _ in range(5)] == [True] * 3 + [False] * 2
            assert (node.statistics().checks, node.statistics().fallbacks) == (0, 3)
            # One failed check per FALLBACK_S, not one per send.
            assert down.statistics().failures == 1
            await trio.sleep(FALLBACK_S)
            assert not await admitted(node)  # (the gate refuses first: the bucket is empty)
