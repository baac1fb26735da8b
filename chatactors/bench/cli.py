"""`chatactors bench <workload>`: parse the command line, run, print, write JSON and PNG."""

from __future__ import annotations

import argparse
import gc
import importlib.util
import sys
from pathlib import Path

import trio
import trio_websocket

from chatactors.bench import api, fanout_result, report, workers
from chatactors.bench.fanout import FanoutSpec
from chatactors.bench.httpclient import HttpPool, Target
from chatactors.bench.httpload import OPS, HttpLoadSpec, run_http
from chatactors.bench.idle import IdleSpec, run_idle
from chatactors.bench.monitor import ServerMonitor
from chatactors.bench.plot import PlotUnavailable, write_plot
from chatactors.bench.results import Metric, RunResult, now_iso
from chatactors.bench.users import UsersSpec, run_users

DEFAULT_URL = "http://127.0.0.1:8000"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not positive")
    return value


def _ops(text: str) -> tuple[str, ...]:
    ops = tuple(op.strip() for op in text.split(",") if op.strip())
    if not ops or any(op not in OPS for op in ops):
        raise argparse.ArgumentTypeError(f"ops must be a comma list of {', '.join(OPS)}")
    return ops


def _ratio(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 0.9:
        raise argparse.ArgumentTypeError(f"expected a ratio from 0 to 0.9, got {text}")
    return value


def _pids(text: str) -> tuple[int, ...]:
    try:
        pids = tuple(int(pid) for pid in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text} is not a comma list of PIDs") from None
    return pids


def _common(parser: argparse.ArgumentParser, several: bool) -> None:
    if several:
        url_help = (
            f"server base URL, or a comma list of node URLs whose sockets and posts the load is "
            f"spread over (default {DEFAULT_URL})"
        )
        pid_help = "server PID, or a comma list of PIDs whose CPU and RSS are summed (from /proc)"
    else:
        url_help = f"server base URL (default {DEFAULT_URL})"
        pid_help = "server PID, for its CPU and RSS from /proc"
    parser.add_argument("--url", default=DEFAULT_URL, help=url_help)
    parser.add_argument("--server-pid", type=_pids, help=pid_help)
    parser.add_argument("--out", type=Path, help="write the results as JSON to this file")
    parser.add_argument(
        "--plot", type=Path, help="draw latency plots to this PNG (needs matplotlib)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def _fanout_options(parser: argparse.ArgumentParser, socket_send: bool) -> None:
    parser.add_argument("--chats", type=_positive_int, default=100, help="C chats (default 100)")
    parser.add_argument(
        "--subscribers", type=_positive_int, default=5, help="S sockets per chat (default 5)"
    )
    parser.add_argument(
        "--rate",
        type=_positive_float,
        default=1000.0,
        help="total messages per second, open loop (default 1000)",
    )
    parser.add_argument(
        "--duration", type=_positive_float, default=10.0, help="seconds (default 10)"
    )
    parser.add_argument(
        "--drain",
        type=float,
        default=5.0,
        help="after sending, wait for late deliveries until none came for this long "
        "(default 5 s; 60 s at most per drain phase)",
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="generator processes, each with a share of the chats (default 1)",
    )
    parser.add_argument(
        "--connections",
        type=_positive_int,
        default=64,
        help="HTTP connections per worker for posting (default 64)",
    )
    parser.add_argument(
        "--chat-affinity",
        action="store_true",
        help="over several URLs, send all of a chat's sockets and posts to one node (chat c to "
        "URL c mod N, as a proxy hashing on the chat id would) instead of spreading them",
    )
    parser.add_argument(
        "--edit-ratio",
        type=_ratio,
        default=0.0,
        help="the share of operations (0 to 0.9) that edit or react to the chat's newest message "
        "instead of sending one, half each; their deliveries are message_updated events of "
        "chatactors.v1 (fanout: with --subprotocol) (default 0)",
    )
    if not socket_send:
        parser.add_argument(
            "--subprotocol",
            action="store_true",
            help="subscribers opt into chatactors.v1 (coalesced array frames)",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatactors bench",
        description="Load generator for servers of the reference chat API (only the given URL).",
    )
    sub = parser.add_subparsers(dest="workload", required=True)
    fan = sub.add_parser("fanout", help="C chats x S sockets, posts over HTTP at an open-loop rate")
    _fanout_options(fan, socket_send=False)
    send = sub.add_parser("socket-send", help="like fanout, sending over chatactors.v1 with acks")
    _fanout_options(send, socket_send=True)
    http = sub.add_parser("http", help="closed-loop GET-history and POST-message at concurrency N")
    http.add_argument("--chats", type=_positive_int, default=10)
    http.add_argument("--concurrency", type=_positive_int, default=32)
    http.add_argument(
        "--duration", type=_positive_float, default=10.0, help="seconds per operation"
    )
    http.add_argument("--history", type=int, default=50, help="messages prefilled per chat")
    http.add_argument("--page", type=_positive_int, default=50, help="limit of each GET")
    http.add_argument("--ops", type=_ops, default=OPS, help="comma list of get,post (default both)")
    idle = sub.add_parser("idle", help="K chats and W idle sockets: server memory per chat/socket")
    idle.add_argument("--chats", type=_positive_int, default=10_000)
    idle.add_argument("--sockets", type=int, default=1_000)
    idle.add_argument("--concurrency", type=_positive_int, default=32)
    idle.add_argument("--settle", type=float, default=2.0, help="seconds before each RSS reading")
    users = sub.add_parser("users", help="U users in K chats each, one /ws socket per user")
    users.add_argument("--users", type=_positive_int, default=100, help="U users (default 100)")
    users.add_argument(
        "--chats-per-user", type=_positive_int, default=10, help="K chats each (default 10)"
    )
    users.add_argument("--rate", type=_positive_float, default=100.0, help="messages/s (100)")
    users.add_argument("--duration", type=_positive_float, default=10.0, help="seconds (10)")
    users.add_argument("--drain", type=float, default=5.0, help="wait for late deliveries (5 s)")
    users.add_argument("--concurrency", type=_positive_int, default=32)
    users.add_argument("--settle", type=float, default=2.0, help="seconds before each RSS reading")
    for p in (fan, send, http, idle, users):
        _common(p, several=p in (fan, send))
    return parser


def _run_fanout(args: argparse.Namespace) -> RunResult:
    socket_send = args.workload == "socket-send"
    started_at = now_iso()

    urls = tuple(args.url.split(","))
    pids: tuple[int, ...] = args.server_pid or ()

    async def create() -> list[str]:
        # Over several nodes they share one store: a chat created through one is known to all.
        pool = HttpPool(urls[0], 32)
        try:
            return await api.create_chats(pool, args.chats, 32)
        finally:
            await pool.aclose()

    chat_ids = trio.run(create)
    spec = FanoutSpec(
        urls=urls,
        chat_ids=tuple(chat_ids),
        subscribers=args.subscribers,
        rate=args.rate,
        duration_s=args.duration,
        drain_s=args.drain,
        subprotocol=getattr(args, "subprotocol", False),
        send_over_socket=socket_send,
        connections=args.connections,
        chat_affinity=args.chat_affinity,
        progress=not args.quiet,
        edit_ratio=args.edit_ratio,
    )
    monitor = ServerMonitor(pid=pids[0] if pids else None, more_pids=pids[1:])
    if args.workers == 1:
        outcomes = trio.run(workers.run_in_process, spec, monitor)
    else:
        outcomes = trio.run(workers.run_in_workers, workers.split(spec, args.workers), monitor)
    params: dict[str, Metric] = {
        "chats": args.chats,
        "subscribers": args.subscribers,
        "rate": args.rate,
        "duration_s": args.duration,
        "subprotocol": "chatactors.v1" if spec.subprotocol or socket_send else "reference",
        "workers": args.workers,
        "connections": args.connections,
        "chat_affinity": args.chat_affinity,
        "edit_ratio": args.edit_ratio,
        # One PID stays a number, as before several were possible.
        "server_pid": pids[0] if len(pids) == 1 else ",".join(map(str, pids)) or None,
    }
    return fanout_result.build(args.workload, args.url, started_at, params, outcomes, monitor)


def _run(args: argparse.Namespace) -> RunResult:
    if args.workload in ("fanout", "socket-send"):
        return _run_fanout(args)
    args.server_pid = args.server_pid[0] if args.server_pid else None
    if args.workload == "http":
        spec = HttpLoadSpec(
            url=args.url,
            chats=args.chats,
            concurrency=args.concurrency,
            duration_s=args.duration,
            history=args.history,
            page=args.page,
            ops=args.ops,
            progress=not args.quiet,
            server_pid=args.server_pid,
        )
        return trio.run(run_http, spec)
    if args.workload == "users":
        users = UsersSpec(
            url=args.url,
            server_pid=args.server_pid,
            users=args.users,
            chats_per_user=args.chats_per_user,
            rate=args.rate,
            duration_s=args.duration,
            drain_s=args.drain,
            concurrency=args.concurrency,
            settle_s=args.settle,
            progress=not args.quiet,
        )
        return trio.run(run_users, users)
    idle = IdleSpec(
        url=args.url,
        server_pid=args.server_pid,
        chats=args.chats,
        sockets=args.sockets,
        concurrency=args.concurrency,
        settle_s=args.settle,
        progress=not args.quiet,
    )
    return trio.run(run_idle, idle)


def main(argv: list[str]) -> int:
    """Run `chatactors bench` with `argv` (the arguments after `bench`); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    several = args.workload in ("fanout", "socket-send")
    if not several and ("," in args.url or (args.server_pid and len(args.server_pid) > 1)):
        parser.error(f"{args.workload} takes one --url and one --server-pid")
    if args.workload == "fanout" and args.edit_ratio and not args.subprotocol:
        parser.error(
            "--edit-ratio needs --subprotocol: reference sockets never get message_updated"
        )
    try:
        for url in args.url.split(","):
            Target.parse(url)
    except ValueError as exc:
        parser.error(str(exc))
    if args.workload == "idle" and args.server_pid is None:
        parser.error("idle needs --server-pid (it measures the server's memory)")
    if args.plot is not None and importlib.util.find_spec("matplotlib") is None:
        print("error: --plot needs matplotlib: pip install 'chatactors[bench]'", file=sys.stderr)
        return 2
    # Thousands of long-lived socket objects make each full collection expensive; the generator
    # spent ~12 % of its CPU in the collector at 9,000 frames/s. Collect rarely.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        result = _run(args)
    except (
        api.SetupError,
        OSError,
        trio.TooSlowError,
        trio_websocket.HandshakeError,
        workers.WorkerError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(report.render(result))
    if args.out is not None:
        result.write_json(args.out)
        print(f"results written to {args.out}")
    if args.plot is not None:
        try:
            write_plot(result, args.plot)
        except (PlotUnavailable, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"plot written to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
