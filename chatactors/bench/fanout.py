"""The `fanout` and `socket-send` workloads of one worker.

C chats, S sockets on each. Messages go out at an open-loop rate (one every 1/R seconds, round
robin over the chats, whatever the server's answers), over HTTP POST (`fanout`) or as `send`
commands of `chatactors.v1` on the first socket of each chat (`socket-send`). Every socket counts
what it receives in the ledger. Latency runs from just before a message is sent to its arrival
on each socket.

Over several node URLs (a cluster), socket i of chat c connects to URL (c + i) mod N and post j
of chat c goes to URL (c + j) mod N, so each chat's sockets and posts span the nodes (with
S >= N) and most deliveries cross nodes. With `socket-send`, a chat's sends go over its first
socket (on URL c mod N). With `chat_affinity`, all of chat c's sockets and posts use URL c mod N,
as behind a proxy that routes by chat id: each chat's traffic stays on one node.

With an edit ratio (``--edit-ratio``), that share of the operations changes the chat's newest
message (an edit or a reaction, ``bench/changes.py``) instead of sending one; each change is
owed to every socket like a message and arrives as a ``message_updated`` (v1 sockets only).
"""

from __future__ import annotations

import os
import sys
import time
from array import array
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import orjson
import trio
import trio_websocket

from chatactors.bench import api, changes, procstat, sockets
from chatactors.bench.httpclient import HttpError, HttpPool, Target
from chatactors.bench.ledger import DeliveryLedger, DeliverySummary
from chatactors.bench.procstat import ServerUsage
from chatactors.bench.stats import NS_PER_MS, percentile
from chatactors.bench.tokens import WARMUP_PREFIX, Token, parse_token

Gate = Callable[[], Awaitable[None]]
"""Awaited once every socket is subscribed, just before sending starts (a start barrier)."""


@attrs.frozen
class FanoutSpec:
    """What one worker does."""

    urls: tuple[str, ...]
    """Node base URLs (one for a single server)."""
    chat_ids: tuple[str, ...]
    subscribers: int
    rate: float
    """This worker's messages per second, over all its chats."""
    duration_s: float
    drain_s: float = 5.0
    """How long to wait after the last send for deliveries still on their way."""
    subprotocol: bool = False
    """Subscribers offer `chatactors.v1` (array frames) instead of the reference protocol."""
    send_over_socket: bool = False
    """Send `send` commands on each chat's first socket instead of HTTP POSTs (`socket-send`)."""
    worker: int = 0
    connections: int = 64
    """HTTP connections per URL for posting (the most POSTs in flight to each)."""
    connect_concurrency: int = 50
    chat_affinity: bool = False
    """Over several URLs, every socket and post of chat c on URL c mod N (routing by chat)."""
    progress: bool = True
    edit_ratio: float = 0.0
    """The share of operations that change a message (edits and reactions) instead of
    sending one; their deliveries need v1 subscribers."""


@attrs.frozen
class FanoutOutcome:
    """What one worker measured (picklable, merged by the parent)."""

    worker: int
    deliveries: DeliverySummary
    latency_ns: array[int]
    at_ns: array[int]
    send_latency_ns: array[int]
    """POST round trips, or send-to-ack times over the socket."""
    send_status: dict[str, int]
    """Answers to sends by HTTP status ("ok" for acks, "error" for failed requests)."""
    window_s: float
    """From the first send to the end of the sending schedule."""
    deliveries_in_window: int
    accepted_in_window: int
    events_in_window: int
    drain_end: str
    """How each drain phase ended: "complete", "quiet" (no progress for drain_s) or "cap"."""
    """Messages whose acceptance arrived within the window (the server's sustained rate)."""
    send_lag_max_ms: float
    """How far behind its schedule the sender fell (generator saturation)."""
    frames: int
    bad_frames: int
    """Frames that were not JSON of the expected shape."""
    events: int
    close_codes: dict[str, int]
    generator_cpu_percent: float
    """This worker process's CPU time over the window, in % of one core (100 = saturated)."""
    never_sent: int
    """Messages still queued in the generator (all connections busy) when the run ended."""
    warmup_missing: int
    """Sockets that never saw their chat's warm-up message (not subscribed in time)."""
    changes: int = 0
    """Operations that changed a message (edits and reactions) instead of sending one."""


@attrs.define(eq=False)
class _Run:
    spec: FanoutSpec
    ledger: DeliveryLedger
    send_ns: array[int] = attrs.field(factory=lambda: array("q"))
    send_latency_ns: array[int] = attrs.field(factory=lambda: array("q"))
    send_status: Counter[str] = attrs.field(factory=Counter)
    close_codes: Counter[str] = attrs.field(factory=Counter)
    frames: int = 0
    bad_frames: int = 0
    events: int = 0
    warmed: set[int] = attrs.field(factory=set)
    all_warm: trio.Event = attrs.field(factory=trio.Event)
    total_sockets: int = 0
    lag_max_s: float = 0.0
    receiving: bool = True
    sending: bool = True
    """False once the window is over: messages still waiting for a connection are not sent."""
    accepting: bool = True
    """False once the drain stopped waiting for answers: later answers are ignored."""
    in_flight: int = 0
    """Messages sent and not yet answered."""
    posts: Counter[int] = attrs.field(factory=Counter)
    """Posts made so far per chat (picks each post's URL)."""
    mix: changes.ChangeMix | None = None
    """With an edit ratio: the targets of changes."""
    last_pos: dict[int, int] = attrs.field(factory=dict)
    """Per socket, the log position of the last update it got (a repeat is a duplicate)."""

    def warm_content(self, chat: int) -> str:
        return f"{WARMUP_PREFIX}{self.spec.worker}:{chat}"

    def mint(self, chat: int) -> int:
        self.send_ns.append(0)
        return self.ledger.mint(chat)


def _handle_events(run: _Run, socket: int, chat: int, events: list[Any], recv_ns: int) -> None:
    ledger = run.ledger
    for event in events:
        kind = event.get("event") if isinstance(event, dict) else None
        if kind == "message_received":
            for data in sockets.human_messages([event]):
                content = data.get("content")
                token = parse_token(content)
                if token is None:
                    if content == run.warm_content(chat) and socket not in run.warmed:
                        run.warmed.add(socket)
                        if len(run.warmed) == run.total_sockets:
                            run.all_warm.set()
                elif token.worker != run.spec.worker:
                    ledger.unknown += 1
                else:
                    ledger.record(socket, token.n, token.send_ns, recv_ns)
        elif kind == "message_updated":
            _record_change(run, socket, event, recv_ns)
        elif kind in ("ack", "error"):
            data = event.get("data") or {}
            ref = data.get("ref")
            if not isinstance(ref, str) or not ref.isdigit():
                continue
            n = int(ref)
            if n >= len(run.send_ns) or not run.accepting:
                continue
            if not ledger.settle(n, accepted=kind == "ack"):
                continue
            message = data.get("message")
            if run.mix is not None and kind == "ack" and _sent_by(run, n, message):
                assert isinstance(message, dict)
                run.mix.learn(ledger.chat_of(n), str(message.get("id")))
            run.in_flight -= 1
            if kind == "ack":
                run.send_status["ok"] += 1
                run.send_latency_ns.append(recv_ns - run.send_ns[n])
            else:
                run.send_status[str(data.get("status", "error"))] += 1


def _sent_by(run: _Run, n: int, message: object) -> bool:
    """Whether ``message`` (an ack's) is the new message that operation ``n`` sent (an edit's
    ack carries its token too, but says it was edited)."""
    token = Token(worker=run.spec.worker, n=n, send_ns=run.send_ns[n])
    return (
        isinstance(message, dict)
        and message.get("edited_at") is None
        and parse_token(message.get("content")) == token
    )


def _record_change(run: _Run, socket: int, event: dict[str, Any], recv_ns: int) -> None:
    """A ``message_updated``: the operation it brings is the token this socket had not seen."""
    pos = event.get("pos")
    if isinstance(pos, int):
        if pos <= run.last_pos.get(socket, 0):
            run.ledger.duplicated += 1
            return
        run.last_pos[socket] = pos
    data = event.get("data")
    if not isinstance(data, dict) or data.get("user_id") == api.BOT_USER:
        return
    for worker, n, send_ns in changes.operations_in(data):
        if worker != run.spec.worker:
            run.ledger.unknown += 1
        elif n < len(run.send_ns) and not run.ledger.has(socket, n):
            run.ledger.record(socket, n, run.send_ns[n] if send_ns is None else send_ns, recv_ns)


async def _receive(
    run: _Run, ws: trio_websocket.WebSocketConnection, socket: int, chat: int
) -> None:
    subprotocol = run.spec.subprotocol or run.spec.send_over_socket
    try:
        while True:
            frame = await ws.get_message()
            recv_ns = time.monotonic_ns()
            run.frames += 1
            if not sockets.may_matter(frame):
                # Most frames are the bot's presence/read/typing events: count, do not parse.
                run.events += sockets.count_events(frame)
                continue
            try:
                events = sockets.decode_frame(frame, subprotocol)
            except ValueError:
                run.bad_frames += 1
                continue
            run.events += len(events)
            _handle_events(run, socket, chat, events, recv_ns)
    except trio_websocket.ConnectionClosed as exc:
        if run.receiving:
            run.ledger.disconnect(socket)
            run.close_codes[str(exc.reason.code if exc.reason else None)] += 1


@attrs.frozen
class _Sock:
    ws: trio_websocket.WebSocketConnection
    index: int
    chat: int


def _node(spec: FanoutSpec, chat: int, i: int) -> int:
    """Which URL the i-th socket (or post) of `chat` uses."""
    return (chat if spec.chat_affinity else chat + i) % len(spec.urls)


async def _connect_all(
    run: _Run, nursery: trio.Nursery, targets: list[Target]
) -> tuple[list[_Sock], list[trio_websocket.WebSocketConnection | None]]:
    """Open S sockets per chat; returns them and, per chat, its sender socket."""
    spec = run.spec
    plan = [(chat, i) for i in range(spec.subscribers) for chat in range(len(spec.chat_ids))]
    opened: list[_Sock] = []
    senders: list[trio_websocket.WebSocketConnection | None] = [None] * len(spec.chat_ids)
    limiter = trio.CapacityLimiter(spec.connect_concurrency)

    async def open_one(chat: int, i: int) -> None:
        sender = spec.send_over_socket and i == 0
        async with limiter:
            ws = await sockets.connect(
                nursery,
                targets[_node(spec, chat, i)],
                spec.chat_ids[chat],
                user_id=api.PARTICIPANTS[0] if sender else None,
                subprotocol=spec.subprotocol or spec.send_over_socket,
            )
        opened.append(_Sock(ws=ws, index=run.ledger.add_socket(chat), chat=chat))
        if sender:
            senders[chat] = ws

    async with trio.open_nursery() as connecting:
        for chat, i in plan:
            connecting.start_soon(open_one, chat, i)
    run.total_sockets = len(opened)
    return opened, senders


async def _warm_up(run: _Run, pools: list[HttpPool], timeout_s: float) -> None:
    """Post one warm-up message per chat and wait until every socket has seen its own."""
    async with trio.open_nursery() as nursery:
        for chat, chat_id in enumerate(run.spec.chat_ids):
            pool = pools[_node(run.spec, chat, 0)]
            nursery.start_soon(api.post_message, pool, chat_id, run.warm_content(chat))
    with trio.move_on_after(timeout_s):
        await run.all_warm.wait()


async def _post_one(run: _Run, pool: HttpPool, n: int, chat: int) -> None:
    spec = run.spec
    path = api.messages_path(spec.chat_ids[chat])
    async with pool.connection() as conn:
        if not run.sending:
            return  # the window closed while this message waited for a connection
        send_ns = time.monotonic_ns()
        run.send_ns[n] = send_ns
        body = api.message_body(Token(worker=spec.worker, n=n, send_ns=send_ns).encode())
        run.in_flight += 1
        try:
            response = await conn.request("POST", path, body)
        except HttpError:
            run.send_status["error"] += 1
            run.ledger.settle(n, accepted=False)
            return
        finally:
            run.in_flight -= 1
    run.send_latency_ns.append(time.monotonic_ns() - send_ns)
    run.send_status[str(response.status)] += 1
    run.ledger.settle(n, accepted=response.ok)
    if run.mix is not None and response.ok:
        run.mix.learn(chat, str(response.json()["message"]["id"]))


async def _change_one(run: _Run, pool: HttpPool, n: int, chat: int, change: changes.Change) -> None:
    """Operation ``n`` as a change of the chat's newest message, over HTTP."""
    spec = run.spec
    async with pool.connection() as conn:
        if not run.sending:
            return
        send_ns = time.monotonic_ns()
        run.send_ns[n] = send_ns
        content = Token(worker=spec.worker, n=n, send_ns=send_ns).encode()
        method, path, body = changes.request(
            spec.chat_ids[chat], change, content, changes.reaction_key(spec.worker, n)
        )
        run.in_flight += 1
        try:
            response = await conn.request(method, path, body)
        except HttpError:
            run.send_status["error"] += 1
            run.ledger.settle(n, accepted=False)
            return
        finally:
            run.in_flight -= 1
    run.send_latency_ns.append(time.monotonic_ns() - send_ns)
    run.send_status[str(response.status)] += 1
    run.ledger.settle(n, accepted=response.ok)


async def _send_command(
    run: _Run, ws: trio_websocket.WebSocketConnection, n: int, change: changes.Change | None
) -> None:
    if not run.sending:
        return
    send_ns = time.monotonic_ns()
    run.send_ns[n] = send_ns
    run.in_flight += 1  # until its ack or error arrives (see _handle_events)
    content = Token(worker=run.spec.worker, n=n, send_ns=send_ns).encode()
    command: dict[str, str] = {"op": "send", "ref": str(n), "type": "text", "content": content}
    if change is not None:
        key = changes.reaction_key(run.spec.worker, n)
        command = changes.command(str(n), change, content, key)
    try:
        await ws.send_message(orjson.dumps(command).decode())
    except trio_websocket.ConnectionClosed:
        run.send_status["error"] += 1
        if run.ledger.settle(n, accepted=False):
            run.in_flight -= 1


async def _send_all(
    run: _Run,
    pools: list[HttpPool],
    senders: list[trio_websocket.WebSocketConnection | None],
    in_flight: trio.Nursery,
) -> None:
    """The open-loop schedule: message i is due at start + i / rate."""
    spec = run.spec
    chats = len(spec.chat_ids)
    total = round(spec.rate * spec.duration_s)
    start = trio.current_time()
    for i in range(total):
        due = start + i / spec.rate
        await trio.sleep_until(due)
        run.lag_max_s = max(run.lag_max_s, trio.current_time() - due)
        chat = i % chats
        n = run.mint(chat)
        ws = senders[chat]
        change = None if run.mix is None else run.mix.next_change(i, chat)
        if spec.send_over_socket and ws is not None:
            in_flight.start_soon(_send_command, run, ws, n, change)
        else:
            pool = pools[_node(spec, chat, run.posts[chat])]
            run.posts[chat] += 1
            if change is None:
                in_flight.start_soon(_post_one, run, pool, n, chat)
            else:
                in_flight.start_soon(_change_one, run, pool, n, chat, change)
    await trio.sleep_until(start + spec.duration_s)


DRAIN_CAP_S = 60.0


async def _wait_quiet(run: _Run, done: Callable[[], bool], progress: Callable[[], int]) -> str:
    """Wait until `done()` ("complete"), `drain_s` without `progress()` changing ("quiet"), or
    DRAIN_CAP_S ("cap"); returns which."""
    last_progress = trio.current_time()
    last_count = -1
    with trio.move_on_after(DRAIN_CAP_S):
        # Polled: progress is counted on every frame; an Event would cost a check per frame
        # instead of one per 100 ms.
        while trio.current_time() - last_progress < run.spec.drain_s:
            count = progress()
            if count != last_count:
                last_count, last_progress = count, trio.current_time()
            if done():
                return "complete"
            await trio.sleep(0.1)
        return "quiet"
    return "cap"


async def _settle(run: _Run) -> str:
    """After the sending window: settle what was sent, then wait for its deliveries.

    1. Answers: no new message is sent (those still queued for a connection stay "never sent");
       wait for the answers to those sent, while they keep coming, then cancel what is left and
       stop accepting answers (a later ack leaves its message unanswered).
    2. Deliveries: wait until every accepted message reached every socket of its chat, or until
       `drain_s` pass without a new delivery. Only then is a missing delivery counted as lost,
       so an overloaded server (or generator) that is still catching up is not blamed for loss.
    """
    ledger = run.ledger
    run.sending = False
    return await _wait_quiet(
        run,
        done=lambda: run.in_flight == 0,
        progress=lambda: ledger.unique_deliveries + len(ledger) - ledger.pending,
    )


async def _await_deliveries(run: _Run) -> str:
    """Phase 2 of the drain (see `_settle`), once answers are no longer accepted."""
    ledger = run.ledger

    def complete() -> bool:
        if ledger.unique_deliveries < ledger.expected_so_far:
            return False  # cheap test first; the summary walks every socket
        summary = ledger.summary()
        return summary.received >= summary.expected

    return await _wait_quiet(run, done=complete, progress=lambda: ledger.unique_deliveries)


async def _progress(run: _Run) -> None:
    ledger = run.ledger
    start = trio.current_time()
    seen = 0
    while True:
        await trio.sleep(1.0)
        recent = sorted(ledger.latency_ns[seen:])
        seen = len(ledger.latency_ns)
        p99 = f"{percentile(recent, 99) / NS_PER_MS:7.1f}" if recent else "      -"
        print(
            f"[w{run.spec.worker}] {trio.current_time() - start:5.1f}s sent {len(run.send_ns):>7} "
            f"pending {ledger.pending:>5} deliveries {ledger.unique_deliveries:>8}"
            f"/{ledger.expected_so_far:<8} dup {ledger.duplicated} disc {ledger.disconnected} "
            f"p99(1s) {p99} ms",
            file=sys.stderr,
            flush=True,
        )


async def _close_all(opened: list[_Sock]) -> None:
    with trio.move_on_after(5):
        async with trio.open_nursery() as nursery:
            for sock in opened:
                nursery.start_soon(sock.ws.aclose)


async def run_fanout(
    spec: FanoutSpec, gate: Gate, window_end: Callable[[], None] = lambda: None
) -> FanoutOutcome:
    """Connect, warm up, pass the gate, send for `duration_s`, drain, and count.

    Raises:
        api.SetupError: a warm-up post was refused.
        trio_websocket.HandshakeError, OSError, trio.TooSlowError: a socket could not connect.
    """
    targets = [Target.parse(url) for url in spec.urls]
    mix = changes.ChangeMix(spec.edit_ratio) if spec.edit_ratio > 0 else None
    run = _Run(spec=spec, ledger=DeliveryLedger(), mix=mix)
    pools = [HttpPool(url, spec.connections) for url in spec.urls]
    async with trio.open_nursery() as socket_nursery:
        opened, senders = await _connect_all(run, socket_nursery, targets)
        async with trio.open_nursery() as receivers:
            for sock in opened:
                receivers.start_soon(_receive, run, sock.ws, sock.index, sock.chat)
            await _warm_up(run, pools, timeout_s=10.0 + len(opened) / 200)
            await gate()
            own_start = procstat.sample(os.getpid())
            run.ledger.t0_ns = time.monotonic_ns()
            async with trio.open_nursery() as tasks:
                if spec.progress:
                    tasks.start_soon(_progress, run)
                async with trio.open_nursery() as in_flight:
                    await _send_all(run, pools, senders, in_flight)
                    window_s = (time.monotonic_ns() - run.ledger.t0_ns) / 1e9
                    window_end()
                    accepted_in_window = run.ledger.accepted
                    events_in_window = run.events
                    own = ServerUsage.between(0, own_start, procstat.sample(os.getpid()), 0)
                    answers = await _settle(run)
                    in_flight.cancel_scope.cancel()
                run.accepting = False
                deliveries = await _await_deliveries(run)
                drain_end = f"answers {answers}, deliveries {deliveries}"
                tasks.cancel_scope.cancel()
            run.receiving = False
            receivers.cancel_scope.cancel()
        await _close_all(opened)
        for pool in pools:
            await pool.aclose()
        socket_nursery.cancel_scope.cancel()
    window_ns = window_s * 1e9
    return FanoutOutcome(
        worker=spec.worker,
        deliveries=run.ledger.summary(),
        latency_ns=run.ledger.latency_ns,
        at_ns=run.ledger.at_ns,
        send_latency_ns=run.send_latency_ns,
        send_status=dict(run.send_status),
        window_s=window_s,
        accepted_in_window=accepted_in_window,
        events_in_window=events_in_window,
        drain_end=drain_end,
        deliveries_in_window=sum(1 for at in run.ledger.at_ns if at <= window_ns),
        send_lag_max_ms=run.lag_max_s * 1000,
        frames=run.frames,
        bad_frames=run.bad_frames,
        events=run.events,
        close_codes=dict(run.close_codes),
        generator_cpu_percent=own.cpu_percent,
        never_sent=run.send_ns.count(0),
        warmup_missing=run.total_sockets - len(run.warmed),
        changes=0 if run.mix is None else run.mix.made,
    )
