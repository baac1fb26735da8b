"""The `idle` workload: memory per chat and per idle socket, from the server's RSS.

Create K chats, let the server settle, read its RSS; open W sockets spread over the chats (no
traffic on them), settle, read its RSS again. Needs the server's PID.
"""

from __future__ import annotations

import sys
import time

import attrs
import trio
import trio_websocket

from chatactors.bench import api, sockets
from chatactors.bench.httpclient import HttpPool
from chatactors.bench.monitor import ServerMonitor
from chatactors.bench.results import Metric, RunResult, machine_info, now_iso


@attrs.frozen
class IdleSpec:
    url: str
    server_pid: int
    chats: int = 10_000
    sockets: int = 1_000
    concurrency: int = 32
    settle_s: float = 2.0
    progress: bool = True


async def _report(label: str, done: list[int], total: int) -> None:
    start = trio.current_time()
    while True:
        await trio.sleep(1.0)
        print(
            f"[idle] {trio.current_time() - start:5.1f}s {label} {done[0]:>8}/{total}",
            file=sys.stderr,
            flush=True,
        )


async def run_idle(spec: IdleSpec) -> RunResult:
    """Measure; the sockets are closed before returning.

    Raises:
        api.SetupError: a chat could not be created.
        OSError: the server's /proc entry is not readable.
    """
    started_at = now_iso()
    monitor = ServerMonitor(pid=spec.server_pid)
    rss0 = monitor.rss_bytes()
    if rss0 is None:
        raise OSError(f"cannot read /proc/{spec.server_pid}")
    pool = HttpPool(spec.url, spec.concurrency)
    metrics: dict[str, Metric] = {"server_rss_mb_before": rss0 / 2**20}
    created = [0]
    send, receive = trio.open_memory_channel[int](spec.chats)
    t_create = time.monotonic()
    async with trio.open_nursery() as nursery:
        if spec.progress:
            nursery.start_soon(_report, "chats", created, spec.chats)

        async def count() -> None:
            async for n in receive:
                created[0] += n

        nursery.start_soon(count)
        chat_ids = await api.create_chats(pool, spec.chats, spec.concurrency, on_created=send)
        metrics["chats_created"] = len(chat_ids)
        metrics["create_per_s"] = len(chat_ids) / (time.monotonic() - t_create)
        nursery.cancel_scope.cancel()
    await pool.aclose()
    await trio.sleep(spec.settle_s)
    rss1 = monitor.rss_bytes() or rss0
    metrics["server_rss_mb_after_chats"] = rss1 / 2**20
    metrics["chats_rss_growth_mb"] = (rss1 - rss0) / 2**20
    metrics["bytes_per_chat"] = (rss1 - rss0) / max(1, len(chat_ids))
    target = pool.target
    opened: list[trio_websocket.WebSocketConnection] = []
    async with trio.open_nursery() as socket_nursery:
        limiter = trio.CapacityLimiter(spec.concurrency)
        done = [0]

        async def open_one(i: int) -> None:
            async with limiter:
                ws = await sockets.connect(socket_nursery, target, chat_ids[i % len(chat_ids)])
            opened.append(ws)
            done[0] += 1

        async with trio.open_nursery() as nursery:
            if spec.progress:
                nursery.start_soon(_report, "sockets", done, spec.sockets)
            async with trio.open_nursery() as connecting:
                for i in range(spec.sockets):
                    connecting.start_soon(open_one, i)
            nursery.cancel_scope.cancel()
        await trio.sleep(spec.settle_s)
        rss2 = monitor.rss_bytes() or rss1
        metrics["sockets_open"] = len(opened)
        metrics["server_rss_mb_after_sockets"] = rss2 / 2**20
        metrics["sockets_rss_growth_mb"] = (rss2 - rss1) / 2**20
        metrics["kb_per_socket"] = (rss2 - rss1) / max(1, len(opened)) / 1024
        with trio.move_on_after(10):
            async with trio.open_nursery() as closing:
                for ws in opened:
                    closing.start_soon(ws.aclose)
        socket_nursery.cancel_scope.cancel()
    return RunResult(
        workload="idle",
        target=spec.url,
        started_at=started_at,
        params={
            "chats": spec.chats,
            "sockets": spec.sockets,
            "concurrency": spec.concurrency,
            "settle_s": spec.settle_s,
            "server_pid": spec.server_pid,
        },
        metrics=metrics,
        latency={},
        machine=machine_info(),
        notes=["RSS is read from /proc/<pid>/status VmRSS after each settle period"],
    )
