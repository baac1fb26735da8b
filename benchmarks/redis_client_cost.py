"""CPU per Redis command and per received Pub/Sub message: the cluster's own connection
(``chatactors.cluster``, over loopback TCP and over Redis's Unix socket) against coredis, when
coredis is installed (``pip install coredis``; the project no longer depends on it).
BENCHMARKS.md, "Cluster mode", rounds 2 and 3.

Starts its own ``redis-server`` on a free port (tests/redis_server.py) and stops it. Commands:
2,000 sequential GETs and PUBLISHes, CPU from ``time.process_time``. Messages: a separate
publisher process sends at a fixed rate for 3 s; the receiver's CPU per message is measured.

Usage: .venv/bin/python benchmarks/redis_client_cost.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatactors.cluster.channels import open_channels  # noqa: E402
from chatactors.cluster.redis_link import open_redis_link  # noqa: E402
from tests.redis_server import start_redis_server  # noqa: E402

COMMANDS = 2000
RATES = (300, 1000)
SECONDS = 3

PUBLISHER = """
import socket, sys, time
port, rate, count = map(int, sys.argv[1:4])
s = socket.create_connection(("127.0.0.1", port))
cmd = b"*3\\r\\n$7\\r\\nPUBLISH\\r\\n$4\\r\\nnews\\r\\n$20\\r\\n" + b"x" * 20 + b"\\r\\n"
start = time.perf_counter()
for i in range(count):
    s.sendall(cmd); s.recv(100)
    delay = start + (i + 1) / rate - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
"""


async def cpu_per_call(call: Callable[[], Awaitable[Any]], n: int = COMMANDS) -> float:
    for _ in range(100):
        await call()
    start = time.process_time()
    for _ in range(n):
        await call()
    return (time.process_time() - start) / n * 1e6


async def cpu_per_message(
    port: int, rate: int, wait_for: Callable[[int], Awaitable[None]]
) -> float:
    count = rate * SECONDS
    start = time.process_time()
    publisher = await trio.lowlevel.open_process(
        [sys.executable, "-c", PUBLISHER, str(port), str(rate), str(count)]
    )
    with trio.fail_after(SECONDS * 3 + 10):
        await wait_for(count)
        await publisher.wait()
    return (time.process_time() - start) / count * 1e6


class _Counter:
    def __init__(self, target: int) -> None:
        self.got = 0
        self.target = target
        self.arrived = trio.Event()

    def on_message(self, data: bytes) -> None:
        self.got += 1
        if self.got >= self.target:
            self.arrived.set()

    async def wait_for(self, count: int) -> None:
        await self.arrived.wait()


async def ours(url: str, port: int) -> dict[str, float]:
    results: dict[str, float] = {}
    async with open_redis_link(url, timeout_s=5) as link:
        await link.execute("SET", "k", "v")
        results["GET"] = await cpu_per_call(lambda: link.execute("GET", "k"))
        results["PUBLISH"] = await cpu_per_call(lambda: link.execute("PUBLISH", "nobody", "x"))
        quiet = [("PUBLISH", "nobody", "x")]
        results["quiet PUBLISH (a write)"] = await cpu_per_call(
            lambda: link.execute_many(quiet, quiet=[True])
        )
        async with open_channels(link) as channels:
            for rate in RATES:
                counter = _Counter(rate * SECONDS)
                await channels.listen("news", counter.on_message)
                results[f"message at {rate}/s"] = await cpu_per_message(
                    port, rate, counter.wait_for
                )
                await channels.unlisten("news")
    return results


async def theirs(url: str, port: int) -> dict[str, float]:
    import coredis  # type: ignore[import-not-found]  # optional: the comparison only

    results: dict[str, float] = {}
    client = coredis.Redis.from_url(url)
    async with client:
        await client.set("k", "v")
        results["GET"] = await cpu_per_call(lambda: client.get("k"))
        results["PUBLISH"] = await cpu_per_call(lambda: client.publish("nobody", "x"))
        for rate in RATES:
            async with client.pubsub(channels=["news"], ignore_subscribe_messages=True) as sub:
                await trio.sleep(0.2)

                async def wait_for(count: int) -> None:
                    got = 0
                    async for _ in sub:
                        got += 1
                        if got >= count:
                            return

                results[f"message at {rate}/s"] = await cpu_per_message(port, rate, wait_for)
    return results


def main() -> None:
    server = start_redis_server()
    try:
        rows = {
            "chatactors.cluster": trio.run(ours, server.url, server.port),
            "chatactors.cluster, Unix socket": trio.run(ours, server.unix_url, server.port),
        }
        try:
            rows["coredis"] = trio.run(theirs, server.url, server.port)
        except ImportError:
            print("(coredis not installed: pip install coredis to compare)")
    finally:
        server.remove()
    for client, results in rows.items():
        print(client, "  ".join(f"{what}: {us:.0f} µs" for what, us in results.items()))


if __name__ == "__main__":
    main()
