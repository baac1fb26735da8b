"""What Hypercorn's Trio worker alone costs on this machine: the ceiling under any app on it.

Serves a raw ASGI app that does no work (no Quart, no actors) with chatactors' own Hypercorn
configuration and garbage-collector tuning, pinned to core 0, and measures from core 1:

- http: closed-loop GETs at concurrency 32 answered with a constant 50-message page
  (the size of the bench's GET page): requests per second and per second of server CPU;
- ws:   500 sockets, the server pushes frames of one message_received event to each
  (each socket's own task sending, as chatactors does): server CPU per frame.

    .venv/bin/python benchmarks/hypercorn_ceiling.py            # both
    .venv/bin/python benchmarks/hypercorn_ceiling.py serve-raw  # (internal) the server

Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import trio
import trio.lowlevel
import trio_websocket

from chatactors.bench import procstat
from chatactors.bench.httpclient import HttpPool

ROOT = Path(__file__).resolve().parent.parent
PORT = 18790
EVENT = orjson.dumps(
    {
        "event": "message_received",
        "data": {
            "id": "3f2c1a9e-5b7d-4e0f-8a1b-2c3d4e5f6a7b",
            "user_id": "u0",
            "type": "text",
            "content": "bench:0:123456:1234567890123",
            "timestamp": "2026-11-24T01:00:00.000Z",
            "seq": 12,
        },
    }
).decode()
PAGE = ("[" + ",".join([EVENT] * 50) + "]").encode()
SOCKETS = 500
FRAMES_PER_SOCKET = 40


def serve_raw() -> None:
    """The do-nothing ASGI app under chatactors' Hypercorn settings."""
    from hypercorn.trio import serve

    from chatactors.serve import hypercorn_config, tune_garbage_collector
    from chatactors.settings import Settings

    settings = Settings(host="127.0.0.1", port=PORT)
    config = hypercorn_config(settings)
    outboxes: list[trio.MemorySendChannel[str]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
            await send({"type": "lifespan.shutdown.complete"})
        elif scope["type"] == "http" and scope["path"] == "/push":
            for _ in range(FRAMES_PER_SOCKET):
                for outbox in outboxes:
                    outbox.send_nowait(EVENT)
                await trio.lowlevel.checkpoint()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": str(len(outboxes)).encode()})
        elif scope["type"] == "http":
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": PAGE})
        else:
            await receive()
            await send({"type": "websocket.accept"})
            outbox, inbox = trio.open_memory_channel[str](100_000)
            outboxes.append(outbox)
            async with trio.open_nursery() as nursery:

                async def until_closed() -> None:
                    while (await receive())["type"] != "websocket.disconnect":
                        pass
                    nursery.cancel_scope.cancel()

                nursery.start_soon(until_closed)
                async for frame in inbox:
                    await send({"type": "websocket.send", "text": frame})

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(serve, app, config)
            tune_garbage_collector(settings)
            print("ready", flush=True)

    trio.run(main)


async def measure_http(pid: int) -> str:
    pool = HttpPool(f"http://127.0.0.1:{PORT}", 32)
    count = 0
    deadline = trio.current_time() + 8

    async def client() -> None:
        nonlocal count
        async with pool.connection() as conn:
            while trio.current_time() < deadline:
                response = await conn.request("GET", "/page")
                assert response.ok, response.status
                assert len(response.body) == len(PAGE)
                count += 1

    start = procstat.sample(pid)
    async with trio.open_nursery() as nursery:
        for _ in range(32):
            nursery.start_soon(client)
    end = procstat.sample(pid)
    await pool.aclose()
    wall_s = (end.at_ns - start.at_ns) / 1e9
    cpu_s = end.cpu_s - start.cpu_s
    return (
        f"http: {count / wall_s:,.0f} req/s of a 50-message page "
        f"({count / cpu_s:,.0f} per server CPU-second, server at {100 * cpu_s / wall_s:.0f} %)"
    )


async def measure_ws(pid: int) -> str:
    received = 0
    expected = SOCKETS * FRAMES_PER_SOCKET
    connected = 0
    all_connected = trio.Event()
    all_received = trio.Event()
    async with trio.open_nursery() as nursery:

        async def socket() -> None:
            nonlocal received, connected
            url = f"ws://127.0.0.1:{PORT}/ws"
            async with trio_websocket.open_websocket_url(url) as ws:
                connected += 1
                if connected == SOCKETS:
                    all_connected.set()
                while True:
                    await ws.get_message()
                    received += 1
                    if received == expected:
                        all_received.set()

        for _ in range(SOCKETS):
            nursery.start_soon(socket)
        with trio.fail_after(60):
            await all_connected.wait()
        start = procstat.sample(pid)
        pool = HttpPool(f"http://127.0.0.1:{PORT}", 1)
        await pool.request("GET", "/push")
        with trio.fail_after(120):
            await all_received.wait()
        end = procstat.sample(pid)
        await pool.aclose()
        nursery.cancel_scope.cancel()
    wall_s = (end.at_ns - start.at_ns) / 1e9
    cpu_s = end.cpu_s - start.cpu_s
    return (
        f"ws:   {expected:,} frames to {SOCKETS} sockets in {wall_s:.1f} s: "
        f"{1e6 * cpu_s / expected:.0f} us of server CPU per frame "
        f"(at most {expected / cpu_s:,.0f} frames per server CPU-second)"
    )


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve-raw"]:
        serve_raw()
        return 0
    results = []
    for measure in (measure_http, measure_ws):
        server = subprocess.Popen(
            ["taskset", "-c", "0", sys.executable, __file__, "serve-raw"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            assert server.stdout.readline().strip() == "ready"
            results.append(trio.run(measure, server.pid))
        finally:
            server.terminate()
            server.wait(timeout=15)
    print("\n".join(results))
    Path(ROOT / "benchmarks" / "results" / "hypercorn-ceiling.txt").write_text(
        time.strftime("%Y-%m-%d %H:%M UTC\n", time.gmtime()) + "\n".join(results) + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
