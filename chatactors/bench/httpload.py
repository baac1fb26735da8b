"""The `http` workload: closed-loop GET-history and POST-message at concurrency N.

Each of N clients holds one keep-alive connection and sends its next request as soon as the
previous one is answered, for `duration_s` per operation. The GET phase runs first, over chats
prefilled with `history` messages, so every page it reads is full.
"""

from __future__ import annotations

import sys
import time
from array import array
from collections import Counter

import attrs
import trio

from chatactors.bench import api, procstat
from chatactors.bench.httpclient import HttpError, HttpPool
from chatactors.bench.results import Metric, RunResult, Samples, machine_info, now_iso
from chatactors.bench.stats import LatencySummary, timeline

OPS = ("get", "post")


@attrs.frozen
class HttpLoadSpec:
    url: str
    chats: int = 10
    concurrency: int = 32
    duration_s: float = 10.0
    history: int = 50
    """Messages prefilled in each chat before the GET phase."""
    page: int = 50
    """`limit` of each GET."""
    ops: tuple[str, ...] = OPS
    progress: bool = True
    server_pid: int | None = None


@attrs.define(eq=False)
class _Phase:
    op: str
    latency_ns: array[int] = attrs.field(factory=lambda: array("q"))
    at_ns: array[int] = attrs.field(factory=lambda: array("q"))
    statuses: Counter[str] = attrs.field(factory=Counter)
    page_mismatch: int = 0
    t0_ns: int = 0


async def _client(
    phase: _Phase, spec: HttpLoadSpec, pool: HttpPool, chat_ids: list[str], k: int, deadline: float
) -> None:
    i = k
    async with pool.connection() as conn:
        while trio.current_time() < deadline:
            chat_id = chat_ids[i % len(chat_ids)]
            i += spec.concurrency
            start = time.monotonic_ns()
            try:
                if phase.op == "get":
                    path = f"{api.messages_path(chat_id)}?limit={spec.page}"
                    response = await conn.request("GET", path)
                else:
                    body = api.message_body(f"http-bench {k} {i}")
                    response = await conn.request("POST", api.messages_path(chat_id), body)
            except HttpError:
                phase.statuses["error"] += 1
                continue
            end = time.monotonic_ns()
            phase.latency_ns.append(end - start)
            phase.at_ns.append(end - phase.t0_ns)
            phase.statuses[str(response.status)] += 1
            if phase.op == "get" and response.ok:
                page = response.json()
                if not isinstance(page, list) or len(page) != spec.page:
                    phase.page_mismatch += 1


def _errors(statuses: Counter[str]) -> int:
    return sum(n for status, n in statuses.items() if not status.startswith("2"))


async def _progress(phase: _Phase) -> None:
    start = trio.current_time()
    while True:
        await trio.sleep(1.0)
        print(
            f"[http {phase.op}] {trio.current_time() - start:5.1f}s requests "
            f"{len(phase.latency_ns):>8} errors {_errors(phase.statuses)}",
            file=sys.stderr,
            flush=True,
        )


def _sample(pid: int | None) -> procstat.ProcSample | None:
    if pid is None:
        return None
    try:
        return procstat.sample(pid)
    except OSError:
        return None


async def _run_phase(
    op: str, spec: HttpLoadSpec, pool: HttpPool, chat_ids: list[str], metrics: dict[str, Metric]
) -> _Phase:
    phase = _Phase(op=op, t0_ns=time.monotonic_ns())
    before = _sample(spec.server_pid)
    deadline = trio.current_time() + spec.duration_s
    async with trio.open_nursery() as nursery:
        if spec.progress:
            nursery.start_soon(_progress, phase)
        async with trio.open_nursery() as clients:
            for k in range(spec.concurrency):
                clients.start_soon(_client, phase, spec, pool, chat_ids, k, deadline)
        nursery.cancel_scope.cancel()
    window_s = (time.monotonic_ns() - phase.t0_ns) / 1e9
    after = _sample(spec.server_pid)
    ok = sum(v for k, v in phase.statuses.items() if k.startswith("2"))
    metrics[f"{op}_requests"] = sum(phase.statuses.values())
    metrics[f"{op}_ok_per_s"] = ok / window_s
    metrics[f"{op}_errors"] = sum(phase.statuses.values()) - ok
    metrics[f"{op}_status"] = ", ".join(f"{k}:{v}" for k, v in sorted(phase.statuses.items()))
    if op == "get":
        metrics["get_page_mismatch"] = phase.page_mismatch
    if before is not None and after is not None:
        usage = procstat.ServerUsage.between(spec.server_pid or 0, before, after, 0)
        metrics[f"{op}_server_cpu_percent"] = round(usage.cpu_percent, 1)
        # Requests per second of server CPU: the rate one whole core would give, an estimate
        # that stays meaningful when other processes share the server's core.
        cpu_s = after.cpu_s - before.cpu_s
        metrics[f"{op}_ok_per_server_cpu_s"] = ok / cpu_s if cpu_s > 0 else None
        metrics[f"{op}_server_rss_mb"] = round(usage.rss_mb_end, 1)
    return phase


async def run_http(spec: HttpLoadSpec) -> RunResult:
    """Create and prefill the chats, then run each operation's phase in turn.

    Raises:
        api.SetupError: the server refused a setup request.
    """
    started_at = now_iso()
    pool = HttpPool(spec.url, spec.concurrency)
    chat_ids = await api.create_chats(pool, spec.chats, spec.concurrency)
    prefill = [(chat_id, m) for m in range(spec.history) for chat_id in chat_ids]

    async def prefiller(k: int) -> None:
        for chat_id, m in prefill[k :: spec.concurrency]:
            await api.post_message(pool, chat_id, f"history {m}")

    async with trio.open_nursery() as nursery:
        for k in range(spec.concurrency):
            nursery.start_soon(prefiller, k)
    metrics: dict[str, Metric] = {}
    phases = [await _run_phase(op, spec, pool, chat_ids, metrics) for op in spec.ops]
    await pool.aclose()
    return RunResult(
        workload="http",
        target=spec.url,
        started_at=started_at,
        params={
            "chats": spec.chats,
            "concurrency": spec.concurrency,
            "duration_s": spec.duration_s,
            "history": spec.history,
            "page": spec.page,
            "ops": ",".join(spec.ops),
            "server_pid": spec.server_pid,
        },
        metrics=metrics,
        latency={p.op: LatencySummary.from_ns(p.latency_ns) for p in phases},
        timeline={p.op: timeline(p.at_ns, p.latency_ns) for p in phases},
        machine=machine_info(),
        samples={p.op: Samples(at_ns=list(p.at_ns), latency_ns=list(p.latency_ns)) for p in phases},
    )
