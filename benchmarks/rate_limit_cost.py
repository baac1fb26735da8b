"""CPU per send-limit check: the per-process limiter against the cluster's, side by side.

BENCHMARKS.md, "Cluster-wide rate limits". Starts its own ``redis-server`` on a free port
(tests/redis_server.py) and stops it. Each variant admits ``CHECKS`` sends of ``USERS`` users in
turn (a limit nobody reaches: the cost of the common, admitted path), and reports the node's CPU
per check (``time.process_time``) and Redis's (``INFO cpu``, user + sys), each the median of
``ROUNDS`` rounds:

- ``local``: ``web/rate_limit.py`` alone (one process, or a cluster limited per node);
- ``cluster``: ``cluster/rate_limits.py``, one GCRA script call per check, from one task, then
  from ``CONCURRENT`` tasks at once (requests of many users in flight together);
- ``leased (sketch)``: the alternative not taken, measured to compare: a node takes
  ``LEASE`` tokens of a user's cluster budget in one script call and spends them locally, so a
  check costs a call only once per ``LEASE`` sends of the same user through the same node
  (its best case: a user who sends at a human pace gets a lease per send, or strands it).

For scale, the same run then serves a node in cluster mode with access control on (so its
sends go through the cluster limiter) and measures its CPU per ``POST .../messages``
(``SENDS`` of them from one keep-alive client; the node's CPU from /proc).

Usage: .venv/bin/python benchmarks/rate_limit_cost.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import attrs
import httpx
import trio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatactors.bench.procstat import sample  # noqa: E402
from chatactors.cluster.rate_limits import ClusterRateLimiter  # noqa: E402
from chatactors.cluster.redis import RedisLink, Script, open_redis_link  # noqa: E402
from chatactors.domain.ids import UserId  # noqa: E402
from chatactors.web.auth import issue_token  # noqa: E402
from chatactors.web.rate_limit import RateLimiter, SendLimiter  # noqa: E402
from tests.harness.server_process import open_server_process  # noqa: E402
from tests.redis_server import RedisServer, start_redis_server  # noqa: E402

CHECKS = 20_000
USERS = 1000
ROUNDS = 5
CONCURRENT = 50
LEASE = 10
SENDS = 2000
SECRET = "rate-limit-cost-benchmark-" + "s" * 32
#: High enough that no check is refused: the admitted path is the one every send takes.
RATE_PER_S = 1e6
BURST = 1_000_000

#: The leased sketch: grant up to ARGV[3] tokens of the user's GCRA budget in one call.
LEASE_SCRIPT = Script("""
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local tat = math.max(tonumber(redis.call('GET', KEYS[1])) or now, now)
local room = math.floor((now + tonumber(ARGV[2]) - tat) / interval)
local granted = math.max(0, math.min(tonumber(ARGV[3]), room))
if granted > 0 then
  local new_tat = tat + granted * interval
  redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX',
             math.ceil((new_tat - now) / 1000))
end
return granted
""")


@attrs.define
class LeasedSketch:
    link: RedisLink
    leased: dict[str, int] = attrs.field(factory=dict)

    async def charge(self, user_id: UserId) -> None:
        if self.leased.get(user_id, 0) == 0:
            interval = max(1, round(1_000_000 / RATE_PER_S))
            granted = await self.link.run_script(
                LEASE_SCRIPT, [f"bench:lease:{user_id}"], [interval, BURST * interval, LEASE]
            )
            if granted == 0:
                raise RuntimeError("refused: the benchmark's limit is too low")
            self.leased[user_id] = granted
        self.leased[user_id] -= 1


def local_limiter() -> RateLimiter:
    return RateLimiter(RATE_PER_S, BURST, trio.current_time, max_users=100_000)


async def redis_cpu_s(link: RedisLink) -> float:
    info = await link.execute("INFO", "cpu")
    text = info.decode() if isinstance(info, bytes) else str(info)
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return float(fields["used_cpu_user"]) + float(fields["used_cpu_sys"])


async def measure(link: RedisLink, checks: Callable[[], Awaitable[None]]) -> tuple[float, float]:
    """Node and Redis CPU per check, in µs, of one round of ``CHECKS`` checks."""
    await link.execute("FLUSHALL")
    redis_before = await redis_cpu_s(link)
    start = time.process_time()
    await checks()
    node = (time.process_time() - start) / CHECKS * 1e6
    redis = (await redis_cpu_s(link) - redis_before) / CHECKS * 1e6
    return node, redis


def users() -> list[UserId]:
    return [UserId(f"user-{i % USERS}") for i in range(CHECKS)]


def sequential(limiters: Sequence[SendLimiter]) -> Callable[[], Awaitable[None]]:
    """Check each send in turn; send i goes through node i mod len(limiters)."""

    async def run() -> None:
        for i, user in enumerate(users()):
            await limiters[i % len(limiters)].charge(user)

    return run


def concurrent(limiter: ClusterRateLimiter) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        pending = users()

        async def worker() -> None:
            while pending:
                await limiter.charge(pending.pop())

        async with trio.open_nursery() as nursery:
            for _ in range(CONCURRENT):
                nursery.start_soon(worker)

    return run


async def node_cpu_per_send_us(redis: RedisServer) -> float:
    """A node in cluster mode, access control on: its CPU per message sent over HTTP."""
    limits = ("--rate-limit-per-s", str(RATE_PER_S), "--rate-limit-burst", str(BURST))
    with tempfile.TemporaryDirectory() as data:
        async with open_server_process(
            "--redis-url", redis.url, "--node-id", "bench", "--auth-enabled",
            "--auth-secret", SECRET, *limits, data_dir=Path(data),
        ) as node:  # fmt: skip
            token = issue_token(SECRET, "ann", ttl_s=3600)
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(base_url=node.url, headers=headers) as client:
                chat = await client.post("/chats", json={"participants": ["ann", "bob"]})
                url = f"/chats/{chat.json()['chat_id']}/messages"
                body = {"user_id": "ann", "type": "text", "content": "hello"}
                for _ in range(200):  # warm up
                    (await client.post(url, json=body)).raise_for_status()
                before = sample(node.pid).cpu_s
                for _ in range(SENDS):
                    (await client.post(url, json=body)).raise_for_status()
                return (sample(node.pid).cpu_s - before) / SENDS * 1e6


async def main() -> None:
    server = start_redis_server()
    try:
        async with open_redis_link(server.url, timeout_s=5) as link:

            def cluster() -> ClusterRateLimiter:
                return ClusterRateLimiter(link, RATE_PER_S, BURST, local_limiter())

            variants: dict[str, Callable[[], Callable[[], Awaitable[None]]]] = {
                "local (per process)": lambda: sequential([local_limiter()]),
                "cluster (GCRA per check)": lambda: sequential([cluster()]),
                f"cluster, {CONCURRENT} tasks at once": lambda: concurrent(cluster()),
                f"leased {LEASE} at a time (sketch)": lambda: sequential([LeasedSketch(link)]),
            }
            for make in variants.values():  # warm up: scripts loaded, connections open
                await make()()
            results: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
            for _ in range(ROUNDS):  # interleaved, so drift hits every variant alike
                for name, make in variants.items():
                    results[name].append(await measure(link, make()))
        per_send = await node_cpu_per_send_us(server)
    finally:
        server.remove()
    base = statistics.median(node for node, _ in results["local (per process)"])
    print(f"{CHECKS} admitted checks of {USERS} users, median of {ROUNDS} rounds")
    print(f"{'variant':36} {'node µs/check':>14} {'x local':>8} {'Redis µs/check':>15}")
    for name, rounds in results.items():
        node = statistics.median(n for n, _ in rounds)
        redis = statistics.median(r for _, r in rounds)
        print(f"{name:36} {node:14.1f} {node / base:8.1f} {redis:15.1f}")
    print(f"a send over HTTP to a node in cluster mode, its limiter included: {per_send:.0f} µs")


if __name__ == "__main__":
    trio.run(main)
