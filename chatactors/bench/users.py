"""The `users` workload: U users each in K chats, one socket per user (`/ws`).

Create the chats (user i shares a two-person chat with each of the K/2 users after it, round a
ring, so everyone is in K chats), wake every chat's actor with one read, settle and read the
server's RSS; open the U user sockets, wait for each one's `ready`, settle and read it again:
the difference is the memory of the idle user sockets. Then post at an open-loop rate over HTTP,
round-robin over the chats, and time each message from just before its POST to its arrival on
each of its two participants' sockets. Needs the server's PID for the memory figures.
"""

from __future__ import annotations

import math
import secrets
import sys
import time
from collections import Counter

import attrs
import orjson
import trio
import trio_websocket

from chatactors.bench import api, sockets
from chatactors.bench.httpclient import HttpError, HttpPool
from chatactors.bench.monitor import ServerMonitor
from chatactors.bench.results import Metric, RunResult, machine_info, now_iso
from chatactors.bench.stats import LatencySummary

#: Every wait for the server is bounded by this.
WAIT_S = 60.0


@attrs.frozen
class UsersSpec:
    url: str
    server_pid: int | None
    users: int = 100
    chats_per_user: int = 10
    rate: float = 100.0
    duration_s: float = 10.0
    drain_s: float = 5.0
    concurrency: int = 32
    settle_s: float = 2.0
    progress: bool = True


def ring_chats(users: list[str], chats_per_user: int) -> list[tuple[str, str]]:
    """Two-person chats in which every user takes part in ``chats_per_user`` (rounded even)."""
    half = min(chats_per_user // 2, (len(users) - 1) // 2)
    count = len(users)
    return [(users[i], users[(i + d) % count]) for i in range(count) for d in range(1, half + 1)]


@attrs.define(eq=False)
class _Receiver:
    """What the user sockets saw: latencies of bench messages, and (chat, seq, user) counts."""

    sent_ns: dict[str, int] = attrs.field(factory=dict)
    latency_ns: list[int] = attrs.field(factory=list)
    seen: Counter[tuple[str, int, str]] = attrs.field(factory=Counter)
    closed: int = 0
    #: Why posts failed: an HTTP status or an exception, with how often.
    failures: Counter[str] = attrs.field(factory=Counter)
    post_ns: list[int] = attrs.field(factory=list)

    async def read(self, ws: trio_websocket.WebSocketConnection, user: str) -> None:
        try:
            while True:
                frame = await ws.get_message()
                now = time.monotonic_ns()
                if "bench:" not in frame:
                    continue
                for event in orjson.loads(frame):
                    if event.get("event") != "message_received":
                        continue
                    data = event["data"]
                    sent = self.sent_ns.get(data["content"])
                    if sent is not None:
                        self.latency_ns.append(now - sent)
                        self.seen[(event["chat_id"], data["seq"], user)] += 1
        except trio_websocket.ConnectionClosed:
            self.closed += 1


async def _ready(ws: trio_websocket.WebSocketConnection) -> int:
    """Wait for the socket's `ready`; how many chats it carries."""
    with trio.fail_after(WAIT_S):
        while True:
            for event in orjson.loads(await ws.get_message()):
                if event.get("event") == "ready":
                    return len(event["data"]["chats"])


def _log(spec: UsersSpec, text: str) -> None:
    if spec.progress:
        print(f"[users] {text}", file=sys.stderr, flush=True)


async def run_users(spec: UsersSpec) -> RunResult:
    """Measure; the sockets are closed before returning.

    Raises:
        api.SetupError: a chat could not be created.
        trio.TooSlowError: a socket sent no `ready` within WAIT_S.
    """
    started_at = now_iso()
    monitor = ServerMonitor(pid=spec.server_pid)
    run = secrets.token_hex(3)  # fresh user names: earlier runs' chats are not theirs
    users = [f"bench{run}-u{i}" for i in range(spec.users)]
    pairs = ring_chats(users, spec.chats_per_user)
    pool = HttpPool(spec.url, spec.concurrency)
    metrics: dict[str, Metric] = {}
    limiter = trio.CapacityLimiter(spec.concurrency)
    chat_ids: list[str] = [""] * len(pairs)

    async def create(index: int) -> None:
        async with limiter:
            chat_ids[index] = await api.create_chat(pool, pairs[index])
            # One read wakes the chat's actor, so the sockets' figure holds no actor memory.
            await pool.request("GET", api.messages_path(chat_ids[index]) + "?limit=1")

    _log(spec, f"creating {len(pairs)} chats")
    async with trio.open_nursery() as nursery:
        for index in range(len(pairs)):
            nursery.start_soon(create, index)
    await trio.sleep(spec.settle_s)
    rss_chats = monitor.rss_bytes()
    metrics["chats"] = len(pairs)
    metrics["server_rss_mb_with_active_chats"] = None if rss_chats is None else rss_chats / 2**20
    receiver = _Receiver()
    target = pool.target
    async with trio.open_nursery() as socket_nursery:
        opened: list[trio_websocket.WebSocketConnection] = []
        carried: list[int] = []
        t_open = time.monotonic()

        async def open_one(user: str) -> None:
            async with limiter:
                ws = await sockets.connect_user(socket_nursery, target, user)
                carried.append(await _ready(ws))
            opened.append(ws)
            socket_nursery.start_soon(receiver.read, ws, user)

        _log(spec, f"opening {len(users)} user sockets")
        async with trio.open_nursery() as nursery:
            for user in users:
                nursery.start_soon(open_one, user)
        metrics["user_sockets"] = len(opened)
        metrics["sockets_ready_per_s"] = len(opened) / (time.monotonic() - t_open)
        metrics["chats_per_socket_mean"] = sum(carried) / max(1, len(carried))
        await trio.sleep(spec.settle_s)
        rss_sockets = monitor.rss_bytes()
        if rss_chats is not None and rss_sockets is not None:
            per_socket = (rss_sockets - rss_chats) / max(1, len(opened))
            metrics["server_rss_mb_with_sockets"] = rss_sockets / 2**20
            metrics["kb_per_idle_user_socket"] = per_socket / 1024
        _log(spec, f"posting {spec.rate:g}/s for {spec.duration_s:g} s")
        monitor.mark_start()
        # A fresh pool: the server has closed the set-up pool's idle keep-alive connections.
        await pool.aclose()
        pool = HttpPool(spec.url, spec.concurrency)
        failed = await _post_at_rate(spec, pool, chat_ids, pairs, receiver)
        expected = 2 * (len(receiver.sent_ns) - failed)
        with trio.move_on_after(spec.drain_s):
            while len(receiver.latency_ns) < expected:  # noqa: ASYNC110 (bounded: move_on_after)
                await trio.sleep(0.05)
        monitor.mark_end()
        metrics["messages_posted"] = len(receiver.sent_ns) - failed
        metrics["messages_failed"] = failed
        metrics["deliveries_expected"] = expected
        metrics["deliveries_received"] = len(receiver.latency_ns)
        metrics["deliveries_duplicated"] = sum(n - 1 for n in receiver.seen.values() if n > 1)
        metrics["sockets_closed_by_server"] = receiver.closed
        with trio.move_on_after(10):
            async with trio.open_nursery() as closing:
                for ws in opened:
                    closing.start_soon(ws.aclose)
        socket_nursery.cancel_scope.cancel()
    await pool.aclose()
    return RunResult(
        workload="users",
        target=spec.url,
        started_at=started_at,
        params={
            "users": spec.users,
            "chats_per_user": spec.chats_per_user,
            "rate": spec.rate,
            "duration_s": spec.duration_s,
            "server_pid": spec.server_pid,
        },
        metrics=metrics,
        latency={
            "delivery": LatencySummary.from_ns(receiver.latency_ns),
            "post": LatencySummary.from_ns(receiver.post_ns),
        },
        server=monitor.usage(),
        server_timeline=monitor.timeline(),
        machine=machine_info(),
        notes=[
            *(f"{n} posts failed: {why}" for why, n in receiver.failures.most_common(3)),
            "idle memory: RSS after the sockets' ready minus RSS with every chat's actor awake",
            "delivery latency: from just before each POST to the frame on each participant",
            "post latency: the POST's round trip (the same clock), for the machine's share",
        ],
    )


async def _post_at_rate(
    spec: UsersSpec,
    pool: HttpPool,
    chat_ids: list[str],
    pairs: list[tuple[str, str]],
    receiver: _Receiver,
) -> int:
    """Post open loop (the n-th message at start + n / rate); how many failed."""
    total = max(1, math.floor(spec.rate * spec.duration_s))
    failed = 0
    limiter = trio.CapacityLimiter(spec.concurrency)

    async def post(n: int) -> None:
        nonlocal failed
        index = n % len(chat_ids)
        content = f"bench:{n}"
        body = api.message_body(content, pairs[index][n % 2])
        # Timed from when it was due, so a backlog of posts counts as latency.
        receiver.sent_ns[content] = time.monotonic_ns()
        async with limiter:
            try:
                response = await pool.request("POST", api.messages_path(chat_ids[index]), body)
            except HttpError as error:
                failed += 1
                receiver.failures[str(error)[:80]] += 1
                return
            if not response.ok:
                failed += 1
                receiver.failures[f"{response.status} {response.body[:60]!r}"] += 1
            else:
                receiver.post_ns.append(time.monotonic_ns() - receiver.sent_ns[content])

    start = trio.current_time()
    with trio.move_on_after(spec.duration_s + WAIT_S):
        async with trio.open_nursery() as nursery:
            for n in range(total):
                await trio.sleep_until(start + n / spec.rate)
                nursery.start_soon(post, n)
    return failed
