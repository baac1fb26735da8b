"""Durable send rate: how many messages per second are committed before they are acknowledged.

Two measurements, both on 127.0.0.1 / a temporary directory only:

1. Through the store API (``SqliteStore.append_message``, synchronous=FULL): ``--appenders``
   concurrent appenders, each its own chat appending in seq order as a chat actor does, with
   group commit (``batch_max=512``) and with one commit per message (``batch_max=1``).
2. Through HTTP against a real ``chatactors serve`` process: ``--posters`` concurrent clients
   posting ``POST /chats/{id}/messages`` (each its own chat) with ``--store sqlite`` and with
   ``--store memory``.

Run: ``.venv/bin/python benchmarks/durable_send.py`` (``--help`` for sizes; ``--json`` for
machine-readable output). Results and the machine they came from: benchmarks/DURABILITY.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import trio

from chatactors.domain.clock import utc_now
from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import Chat, Message, MessageType
from chatactors.storage.sqlite import open_sqlite_store

SERVING = re.compile(rb"Serving on (http://127\.0\.0\.1:\d+)")


async def store_rate(batch_max: int, appenders: int, per_appender: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="durable-send-") as tmp:
        async with open_sqlite_store(Path(tmp), batch_max=batch_max) as store:
            chats = [
                Chat(ChatId(f"c{i}"), (UserId("alice"), UserId("bob")), utc_now())
                for i in range(appenders)
            ]
            for chat in chats:
                await store.create_chat(chat)
            before = store.statistics()

            async def append_all(chat: Chat) -> None:
                for seq in range(1, per_appender + 1):
                    await store.append_message(
                        Message(
                            MessageId(f"{chat.id}-{seq}"),
                            chat.id,
                            seq,
                            UserId("alice"),
                            MessageType.TEXT,
                            "x" * 64,
                            utc_now(),
                        ),
                        owner=0,
                    )

            started = time.perf_counter()
            async with trio.open_nursery() as nursery:
                for chat in chats:
                    nursery.start_soon(append_all, chat)
            elapsed = time.perf_counter() - started
            after = store.statistics()
            writes = after.writes_committed - before.writes_committed
            batches = after.batches_committed - before.batches_committed
    return {
        "kind": "store",
        "batch_max": batch_max,
        "appenders": appenders,
        "messages": writes,
        "seconds": round(elapsed, 3),
        "messages_per_s": round(writes / elapsed, 1),
        "commits": batches,
        "messages_per_commit": round(writes / batches, 1),
    }


async def _start_server(store: str, data_dir: Path) -> tuple[trio.Process, str]:
    command = [
        sys.executable, "-m", "chatactors", "serve", "--host", "127.0.0.1", "--port", "0",
        "--store", store, "--data-dir", str(data_dir), "--no-bot-enabled",
        "--log-level", "warning",
    ]  # fmt: skip
    process = await trio.lowlevel.open_process(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert process.stdout is not None
    seen = b""
    with trio.fail_after(30):
        while (match := SERVING.search(seen)) is None:
            chunk = await process.stdout.receive_some()
            if not chunk:
                raise RuntimeError("the server exited before serving")
            seen += chunk
    return process, match.group(1).decode()


async def http_rate(store: str, posters: int, per_poster: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="durable-send-") as tmp:
        process, base_url = await _start_server(store, Path(tmp))
        try:
            limits = httpx.Limits(max_connections=posters, max_keepalive_connections=posters)
            async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as http:
                chat_ids = []
                for i in range(posters):
                    response = await http.post("/chats", json={"participants": [f"u{i}", "v"]})
                    chat_ids.append(response.json()["chat_id"])
                sent = 0

                async def post_all(i: int) -> None:
                    nonlocal sent
                    for n in range(per_poster):
                        response = await http.post(
                            f"/chats/{chat_ids[i]}/messages",
                            json={"user_id": f"u{i}", "type": "text", "content": f"m{n}" * 16},
                        )
                        response.raise_for_status()
                        sent += 1

                started = time.perf_counter()
                async with trio.open_nursery() as nursery:
                    for i in range(posters):
                        nursery.start_soon(post_all, i)
                elapsed = time.perf_counter() - started
        finally:
            process.send_signal(signal.SIGTERM)
            with trio.move_on_after(30):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()
    return {
        "kind": "http",
        "store": store,
        "posters": posters,
        "messages": sent,
        "seconds": round(elapsed, 3),
        "messages_per_s": round(sent / elapsed, 1),
    }


def machine() -> dict[str, Any]:
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version()}


async def main(args: argparse.Namespace) -> list[dict[str, Any]]:
    per_appender = args.messages // args.appenders
    results = [
        await store_rate(512, args.appenders, per_appender),
        await store_rate(1, args.appenders, per_appender),
    ]
    per_poster = args.http_messages // args.posters
    results.append(await http_rate("sqlite", args.posters, per_poster))
    results.append(await http_rate("memory", args.posters, per_poster))
    return results


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000, help="store API: total messages")
    parser.add_argument("--appenders", type=int, default=50, help="store API: concurrent chats")
    parser.add_argument("--http-messages", type=int, default=3000, help="HTTP: total messages")
    parser.add_argument("--posters", type=int, default=32, help="HTTP: concurrent clients")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    results = trio.run(main, args)
    if args.json:
        print(json.dumps({"machine": machine(), "results": results}, indent=2))
        return
    print(f"machine: {machine()}")
    for r in results:
        if r["kind"] == "store":
            print(
                f"store API  batch_max={r['batch_max']:<4} appenders={r['appenders']:<3} "
                f"{r['messages']:>6} msgs in {r['seconds']:>7.3f} s = "
                f"{r['messages_per_s']:>9.1f} msg/s ({r['messages_per_commit']} per commit)"
            )
        else:
            print(
                f"HTTP       store={r['store']:<7} posters={r['posters']:<3}     "
                f"{r['messages']:>6} msgs in {r['seconds']:>7.3f} s = "
                f"{r['messages_per_s']:>9.1f} msg/s"
            )


if __name__ == "__main__":
    cli()
