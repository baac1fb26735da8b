"""CPU per Redis command and per received Pub/Sub message: the cluster's own connection
(``chatactors.cluster``, over loopback TCP and over Redis's Unix socket) against Valkey GLIDE
(``pip install valkey-glide``: its Rust core under Trio, through AnyIO) and coredis, each when
installed (the project depends on neither). BENCHMARKS.md, "Cluster mode".

Starts its own ``redis-server`` on a free port (tests/redis_server.py) and stops it. Commands:
2,000 sequential GETs and PUBLISHes, and PUBLISHes ten to a pipeline (per PUBLISH), CPU from
``time.process_time`` (every thread of the process: GLIDE's Rust threads included). Messages: a
separate publisher process sends at a fixed rate for 3 s; the receiver's CPU per message is
measured. Then each client's behaviour when a command is cancelled while Redis is paused
(SIGSTOP): whether the next command gets its own reply, and whether the connection was kept.

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

from chatactors.cluster.redis import open_channels, open_redis_link  # noqa: E402
from tests.redis_server import RedisServer, start_redis_server  # noqa: E402

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


PIPELINE = 10


async def ours(server: RedisServer, url: str) -> dict[str, float]:
    results: dict[str, float] = {}
    async with open_redis_link(url, timeout_s=5) as link:
        await link.execute("SET", "k", "v")
        results["GET"] = await cpu_per_call(lambda: link.execute("GET", "k"))
        results["PUBLISH"] = await cpu_per_call(lambda: link.execute("PUBLISH", "nobody", "x"))
        batch = [("PUBLISH", "nobody", "x")] * PIPELINE
        results["PUBLISH in a pipeline of 10"] = (
            await cpu_per_call(lambda: link.execute_many(batch), COMMANDS // PIPELINE) / PIPELINE
        )
        quiet = [("PUBLISH", "nobody", "x")]
        results["quiet PUBLISH (a write)"] = await cpu_per_call(
            lambda: link.execute_many(quiet, quiet=[True])
        )
        async with open_channels(link) as channels:
            for rate in RATES:
                counter = _Counter(rate * SECONDS)
                await channels.listen("news", counter.on_message)
                results[f"message at {rate}/s"] = await cpu_per_message(
                    server.port, rate, counter.wait_for
                )
                await channels.unlisten("news")

        async def clients() -> int:
            return _connected(await link.execute("INFO", "clients"))

        await cancellation(
            server,
            "ours",
            lambda key: link.execute("GET", key),
            lambda key, value: link.execute("SET", key, value),
            clients,
        )
    return results


async def glide(server: RedisServer, url: str) -> dict[str, float]:
    from glide import (  # type: ignore[import-not-found,unused-ignore]  # optional
        Batch,
        GlideClient,
        GlideClientConfiguration,
        NodeAddress,
    )

    results: dict[str, float] = {}
    address = [NodeAddress("127.0.0.1", server.port)]
    client = await GlideClient.create(GlideClientConfiguration(address, request_timeout=5000))
    try:
        await client.set("k", "v")
        results["GET"] = await cpu_per_call(lambda: client.get("k"))
        results["PUBLISH"] = await cpu_per_call(lambda: client.publish("x", "nobody"))
        batch = Batch(is_atomic=False)
        for _ in range(PIPELINE):
            batch.publish("x", "nobody")
        results["PUBLISH in a pipeline of 10"] = (
            await cpu_per_call(
                lambda: client.exec(batch, raise_on_error=True), COMMANDS // PIPELINE
            )
            / PIPELINE
        )
        for rate in RATES:
            counter = _Counter(rate * SECONDS)
            subscriptions = GlideClientConfiguration.PubSubSubscriptions(
                {}, lambda message, got: got.on_message(message.message), counter
            )
            listener = await GlideClient.create(
                GlideClientConfiguration(address, pubsub_subscriptions=subscriptions)
            )
            try:
                await listener.subscribe({"news"}, timeout_ms=5000)
                results[f"message at {rate}/s"] = await cpu_per_message(
                    server.port, rate, counter.wait_for
                )
            finally:
                await listener.close()

        async def clients() -> int:
            info = await client.custom_command(["INFO", "clients"])
            return _connected(info)

        await cancellation(server, "GLIDE", client.get, client.set, clients)
    finally:
        await client.close()
    return results


def _connected(info: Any) -> int:
    text = info.decode() if isinstance(info, bytes) else str(info)
    return int(text.split("connected_clients:")[1].split()[0])


async def cancellation(
    server: RedisServer,
    name: str,
    get: Callable[[str], Awaitable[Any]],
    put: Callable[[str, str], Awaitable[Any]],
    clients: Callable[[], Awaitable[int]],
) -> None:
    """A GET cancelled while Redis is paused; then, once Redis answers again (and so has sent
    the cancelled GET's reply too), each of 20 GETs must get its own key's value."""
    before = await clients()
    server.pause()
    try:
        with trio.move_on_after(0.3) as waited:
            await get("k")
    finally:
        server.resume()
    assert waited.cancelled_caught
    wrong = 0
    with trio.fail_after(10):
        for i in range(20):
            await put(f"key{i}", f"value{i}")
        for i in range(20):
            if await get(f"key{i}") != f"value{i}".encode():
                wrong += 1
    after = await clients()
    print(
        f"{name}: a GET cancelled while Redis was paused; then {20 - wrong} of 20 GETs got "
        f"their own reply; connected clients {before} before, {after} after"
    )


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
            "chatactors.cluster": trio.run(ours, server, server.url),
            "chatactors.cluster, Unix socket": trio.run(ours, server, server.unix_url),
        }
        try:
            rows["Valkey GLIDE"] = trio.run(glide, server, server.url)
        except ImportError:
            print("(valkey-glide not installed: pip install valkey-glide to compare)")
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
