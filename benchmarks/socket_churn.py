"""RSS of a served process through WebSocket reconnect storms, and after them.

Starts ``chatactors serve`` on 127.0.0.1 (port 0, memory store, bot off, everything else at its
default), creates ``--chats`` chats of ``--users-per-chat`` users, then runs ``--storms``
storms of ``--storm-s`` seconds (or ``--rounds`` rounds) with ``--pause-s`` of quiet after
each. A storm is rounds of ``--sockets`` raw WebSocket connections, all opened (handshake
answered), then all reset (RST, no close frame), as mobile clients that lose their network
do. The mix is the one issue 21 measured: per-chat sockets with ``user_id`` and ``/ws`` user
sockets, half of each offering ``chatactors.v1``; ``--deflate`` makes every handshake offer
``permessage-deflate`` as browsers do; ``--mix plain`` opens plain per-chat sockets without a
user only.

Prints the server's RSS (``/proc/<pid>/status``) at the baseline, at each storm's end and after
each pause, and writes the whole timeline (one sample a second) to ``--out`` as JSON.
Loopback only; bounded in count (``--sockets`` ≤ 3,000) and time (each storm ≤ 120 s).

    .venv/bin/python benchmarks/socket_churn.py --storms 3 --storm-s 60 --pause-s 60
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
_RESET = struct.pack("ii", 1, 0)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def handshake(path: str, *, v1: bool, deflate: bool) -> bytes:
    lines = [
        f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
    ]  # fmt: skip
    if v1:
        lines.append("Sec-WebSocket-Protocol: chatactors.v1")
    if deflate:
        lines.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def socket_paths(args: argparse.Namespace, chats: list[tuple[str, list[str]]]) -> list[bytes]:
    """The handshakes of one round, in the issue's mix."""
    requests = []
    for i in range(args.sockets):
        chat_id, users = chats[i % len(chats)]
        user = users[(i // len(chats)) % len(users)]
        if args.mix == "plain":
            requests.append(handshake(f"/ws/{chat_id}", v1=False, deflate=args.deflate))
            continue
        kind = i % 4
        path = f"/ws/{chat_id}?user_id={user}" if kind < 2 else f"/ws?user_id={user}"
        requests.append(handshake(path, v1=kind % 2 == 1, deflate=args.deflate))
    return requests


def churn_round(port: int, requests: list[bytes]) -> int:
    """Open every socket, wait for each 101, then reset them all; returns how many opened."""
    opened = []
    for request in requests:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(request)
        opened.append(sock)
    upgraded = 0
    for sock in opened:
        sock.settimeout(20)
        with contextlib.suppress(OSError):
            upgraded += sock.recv(4096).startswith(b"HTTP/1.1 101")
    for sock in opened:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
        sock.close()
    return upgraded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sockets", type=int, default=3000, help="sockets per round (≤ 3000)")
    parser.add_argument("--storms", type=int, default=3, help="storms (≤ 5)")
    parser.add_argument("--storm-s", type=float, default=60.0, help="each storm (≤ 120 s)")
    parser.add_argument(
        "--rounds", type=int, default=0, help="rounds per storm (0: as many as fit in --storm-s)"
    )
    parser.add_argument("--pause-s", type=float, default=60.0, help="quiet after each storm")
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--users-per-chat", type=int, default=20)
    parser.add_argument("--mix", choices=["issue21", "plain"], default="issue21")
    parser.add_argument("--deflate", action="store_true", help="offer permessage-deflate")
    parser.add_argument("--out", type=Path, help="write the RSS timeline here (JSON)")
    parser.add_argument("server_args", nargs="*", help="extra `chatactors serve` arguments")
    args = parser.parse_args()
    args.sockets = min(args.sockets, 3000)
    storms, storm_s = min(args.storms, 5), min(args.storm_s, 120.0)
    server = subprocess.Popen(
        [sys.executable, "-m", "chatactors", "serve", "--host", "127.0.0.1", "--port", "0",
         "--store", "memory", "--no-bot-enabled", *args.server_args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    timeline: list[tuple[float, float, str]] = []
    phase = "start"
    sampling = threading.Event()
    try:
        assert server.stdout is not None
        url = ""
        while not url:
            line = server.stdout.readline()
            if not line:
                raise RuntimeError("the server exited before serving")
            if line.startswith("Serving on "):
                url = line.removeprefix("Serving on ").strip()
        # Drain the log so the server never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()  # type: ignore[union-attr]
        port = int(url.rsplit(":", 1)[1])
        chats = []
        with httpx.Client(base_url=url) as client:
            for c in range(args.chats):
                users = [f"u{(c * args.users_per_chat + k) % 1000}"
                         for k in range(args.users_per_chat)]  # fmt: skip
                chat_id = client.post("/chats", json={"participants": users}).json()["chat_id"]
                chats.append((chat_id, users))
        requests = socket_paths(args, chats)
        started = time.monotonic()

        def sample() -> None:
            while not sampling.is_set():
                timeline.append((round(time.monotonic() - started, 1), rss_mb(server.pid), phase))
                sampling.wait(1.0)

        threading.Thread(target=sample, daemon=True).start()
        time.sleep(3)
        baseline = rss_mb(server.pid)
        print(f"RSS baseline {baseline:.0f} MB ({args.chats} chats, mix {args.mix}, "
              f"deflate {'offered' if args.deflate else 'not offered'})", flush=True)  # fmt: skip
        for storm in range(1, storms + 1):
            phase = f"storm {storm}"
            rounds = opened = 0
            storm_started = time.monotonic()
            while time.monotonic() - storm_started < storm_s and not (
                args.rounds and rounds >= args.rounds
            ):
                opened += churn_round(port, requests)
                rounds += 1
            peak = max(rss for _, rss, p in timeline if p == phase)
            end = rss_mb(server.pid)
            phase = f"pause {storm}"
            time.sleep(args.pause_s)
            settled = rss_mb(server.pid)
            print(f"storm {storm}: {opened} sockets upgraded in {rounds} rounds; RSS peak "
                  f"{peak:.0f} MB, at the end {end:.0f} MB, after {args.pause_s:.0f} s quiet "
                  f"{settled:.0f} MB (+{settled - baseline:.0f} MB over baseline)",
                  flush=True)  # fmt: skip
        if args.out:
            args.out.write_text(json.dumps({"args": vars(args) | {"out": str(args.out)},
                                            "timeline": timeline}, indent=1))  # fmt: skip
        return 0
    finally:
        sampling.set()
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    raise SystemExit(main())
