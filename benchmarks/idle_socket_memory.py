"""Server memory per idle connection, by kind of socket, for chatactors and the reference.

For each kind, starts a fresh server on 127.0.0.1 (``chatactors serve`` from ``--checkout``,
memory store, bot off; or, with ``--reference DIR``, the reference server under uvicorn),
creates 10 chats of 20 users, warms up with 100 sockets that are then closed, and reads the
server's RSS (``/proc/<pid>/status``); then opens ``--sockets`` idle connections of that kind
(handshake answered, nothing sent afterwards), waits for RSS to settle and prints the growth
per connection. The kinds:

- ``chat``: ``/ws/{chat_id}`` (a reference client);
- ``chat-user``: ``/ws/{chat_id}?user_id=U`` (presence);
- ``chat-v1``: the same with the ``chatactors.v1`` subprotocol;
- ``user``: ``/ws?user_id=U`` (one socket for all of a user's chats: here 10 chats each);
- ``http``: an idle HTTP/1.1 keep-alive connection after one request.

``--deflate`` offers ``permessage-deflate`` in every handshake, as browsers do. The sockets are
held by a child process so the measuring process stays small. Loopback only; bounded in count
(``--sockets`` ≤ 5,000) and time (each kind well under a minute).

    # every connection comes from 127.0.0.1: lift the per-address cap (absent before issue 21)
    .venv/bin/python benchmarks/idle_socket_memory.py --sockets 2000 \\
        -- --max-connections-per-client 0
    .venv/bin/python benchmarks/idle_socket_memory.py --reference /work/ref \\
        --reference-python /work/ref-venv/bin/python --kinds chat
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("chat", "chat-user", "chat-v1", "user", "http")

# Runs in a child process: opens the connections given on stdin (WebSocket handshakes as
# socket_churn.py writes them), checks each is answered, says "open", then holds them.
_HOLDER = r"""
import socket, sys, time
sys.path.insert(0, sys.argv[3])
from socket_churn import handshake
port, deflate = int(sys.argv[1]), sys.argv[2] == "1"
held = []
for path in sys.stdin.read().split():
    if path.startswith("HTTP:"):
        request = f"GET {path[5:]} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    else:
        request = handshake(path.removesuffix("#v1"), v1=path.endswith("#v1"), deflate=deflate)
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(request)
    held.append(sock)
for sock in held:
    sock.settimeout(20)
    assert sock.recv(65536).startswith(b"HTTP/1.1 "), "not answered"
print("open", flush=True)
time.sleep(600)
"""


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen[str], str]:
    if args.reference:
        port = free_port()
        command = [str(args.reference_python), "-m", "uvicorn", "main:app",
                   "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
        cwd, ready = args.reference, "Uvicorn running on"
    else:
        command = [sys.executable, "-m", "chatactors", "serve", "--host", "127.0.0.1",
                   "--port", "0", "--store", "memory", "--no-bot-enabled",
                   *args.server_args]  # fmt: skip
        cwd, ready, port = args.checkout, "Serving on ", 0
    server = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert server.stdout is not None
    while True:
        line = server.stdout.readline()
        if not line:
            raise RuntimeError("the server exited before serving")
        if ready in line:
            url = line.split()[-1] if not args.reference else f"http://127.0.0.1:{port}"
            break
    # Drain the log so the server never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()  # type: ignore[union-attr]
    return server, url


def paths(kind: str, count: int, chats: list[str], users: list[str]) -> list[str]:
    def one(i: int) -> str:
        chat, user = chats[i % len(chats)], users[(i // len(chats)) % len(users)]
        return {
            "chat": f"/ws/{chat}",
            "chat-user": f"/ws/{chat}?user_id={user}",
            "chat-v1": f"/ws/{chat}?user_id={user}#v1",
            "user": f"/ws?user_id={user}",
            "http": "HTTP:/chats/" + chat,
        }[kind]

    return [one(i) for i in range(count)]


def hold(port: int, requests: list[str], deflate: bool) -> subprocess.Popen[str]:
    flag = "1" if deflate else "0"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(port), flag, str(ROOT / "benchmarks")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdin is not None
    assert holder.stdout is not None
    holder.stdin.write("\n".join(requests))
    holder.stdin.close()
    if holder.stdout.readline().strip() != "open":
        raise RuntimeError("the connections were not all answered")
    return holder


def measure(args: argparse.Namespace, kind: str) -> float:
    server, url = start_server(args)
    try:
        port = int(url.rsplit(":", 1)[1])
        users = [f"u{i}" for i in range(20)]
        with httpx.Client(base_url=url) as client:
            chats = [client.post("/chats", json={"participants": users}).json()["chat_id"]
                     for _ in range(10)]  # fmt: skip
        warm = hold(port, paths(kind, 100, chats, users), args.deflate)
        time.sleep(2)
        warm.kill()
        warm.wait()
        time.sleep(args.settle_s)
        before = rss_kb(server.pid)
        holder = hold(port, paths(kind, args.sockets, chats, users), args.deflate)
        time.sleep(args.settle_s)
        after = rss_kb(server.pid)
        holder.kill()
        holder.wait()
        return float((after - before) / args.sockets)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sockets", type=int, default=2000, help="connections (≤ 5000)")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"of {', '.join(KINDS)}")
    parser.add_argument("--deflate", action="store_true", help="offer permessage-deflate")
    parser.add_argument("--settle-s", type=float, default=6.0)
    parser.add_argument("--checkout", type=Path, default=ROOT, help="chatactors tree to serve")
    parser.add_argument("--reference", type=Path, help="the reference server's directory")
    parser.add_argument("--reference-python", type=Path, help="a Python with its requirements")
    parser.add_argument("server_args", nargs="*", help="extra `chatactors serve` arguments")
    args = parser.parse_args()
    args.sockets = min(args.sockets, 5000)
    who = f"reference ({args.reference})" if args.reference else f"chatactors ({args.checkout})"
    for kind in args.kinds.split(","):
        if kind not in KINDS:
            parser.error(f"unknown kind {kind!r}")
        per_socket = measure(args, kind)
        print(f"{who} {kind:9s} deflate {'offered' if args.deflate else 'not offered'}: "
              f"{per_socket:5.1f} kB per idle connection ({args.sockets})", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
