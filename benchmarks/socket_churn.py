"""RSS of a served process before and after WebSocket churn (issue 12 item 7).

Starts ``chatactors serve`` on 127.0.0.1 (port 0, memory store, bot off), opens ``--sockets``
raw WebSocket connections to one chat and resets them (RST, no close frame), round after round
for ``--seconds``, then reports the server's RSS: at baseline, right after the churn, and
after ``--settle-s`` idle (the periodic collection runs every ``--gc-collect-interval-s``).
Loopback only; bounded in count and time.

    .venv/bin/python benchmarks/socket_churn.py --sockets 1000 --seconds 30
"""

from __future__ import annotations

import argparse
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
HANDSHAKE = (
    "GET /ws/{chat} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def churn_round(port: int, chat: str, count: int) -> None:
    opened = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(HANDSHAKE.format(chat=chat).encode())
        opened.append(sock)
    for sock in opened:
        sock.settimeout(10)
        assert sock.recv(4096).startswith(b"HTTP/1.1 101")
    for sock in opened:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sockets", type=int, default=1000, help="sockets per round (≤ 3000)")
    parser.add_argument("--seconds", type=float, default=30.0, help="churn duration (≤ 120)")
    parser.add_argument("--settle-s", type=float, default=15.0, help="idle wait after churn")
    parser.add_argument("--gc-collect-interval-s", type=float, default=10.0)
    args = parser.parse_args()
    sockets, seconds = min(args.sockets, 3000), min(args.seconds, 120.0)
    server = subprocess.Popen(
        [sys.executable, "-m", "chatactors", "serve", "--host", "127.0.0.1", "--port", "0",
         "--store", "memory", "--no-bot-enabled", "--ws-ping-interval-s", "0",
         "--gc-collect-interval-s", str(args.gc_collect_interval_s)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        url = ""
        while not url:
            line = server.stdout.readline()
            if not line:
                raise RuntimeError("the server exited before serving")
            if line.startswith("Serving on "):
                url = line.removeprefix("Serving on ").strip()
        port = int(url.rsplit(":", 1)[1])
        chat = httpx.post(f"{url}/chats", json={"participants": ["alice"]}).json()["chat_id"]
        time.sleep(2)
        baseline = rss_mb(server.pid)
        rounds, started = 0, time.monotonic()
        while time.monotonic() - started < seconds:
            churn_round(port, chat, sockets)
            rounds += 1
        after = rss_mb(server.pid)
        time.sleep(args.settle_s)
        settled = rss_mb(server.pid)
        print(f"sockets churned: {rounds * sockets} ({rounds} rounds of {sockets})")
        print(f"RSS baseline {baseline:.0f} MB, after churn {after:.0f} MB, "
              f"after {args.settle_s:.0f} s idle {settled:.0f} MB "
              f"(+{settled - baseline:.0f} MB, {settled / baseline:.2f}x baseline)")  # fmt: skip
        return 0
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    raise SystemExit(main())
