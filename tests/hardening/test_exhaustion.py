"""What a hostile or unlucky network does to a real server process, and what it gets back.

Reconnect storms (memory given back), descriptors (the soft limit raised, a reset connection's
descriptor freed at once, a cap per client address, running out of them), all against
``chatactors serve`` in a child process (tests/harness/server_process.py), over raw sockets on
127.0.0.1. Waits poll what the process shows (its RSS, its descriptors, its answers) within
generous bounds; nothing here measures speed.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.hardening.raw_socket import frame
from tests.harness.server_process import ServerProcess, server_process
from tests.harness.waiting import wait_until

pytestmark = pytest.mark.slow

_RESET = struct.pack("ii", 1, 0)
UNCAPPED = ("--max-connections-per-client", "0")


def handshake(path: str, *, v1: bool = False) -> bytes:
    lines = [
        f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
        *(["Sec-WebSocket-Protocol: chatactors.v1"] if v1 else []),
    ]  # fmt: skip
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def open_sockets(port: int, requests: list[bytes]) -> list[socket.socket]:
    """Connect and send every handshake, then wait for each 101."""
    opened: list[socket.socket] = []
    try:
        for request in requests:
            sock = socket.create_connection(("127.0.0.1", port), timeout=20)
            opened.append(sock)
            sock.sendall(request)
        for sock in opened:
            assert sock.recv(4096).startswith(b"HTTP/1.1 101")
    except BaseException:
        reset(opened)
        raise
    return opened


def reset(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
        sock.close()


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def new_chat(server: ServerProcess, *users: str) -> str:
    response = httpx.post(f"{server.url}/chats", json={"participants": list(users)}, timeout=20)
    chat_id: str = response.json()["chat_id"]
    return chat_id


def http_get(port: int, path: str, *, timeout_s: float = 5) -> int:
    """The status of a GET on a new connection; raises OSError if the server drops it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head = sock.recv(4096)
    if not head:
        raise ConnectionResetError("closed without an answer")
    return int(head.split()[1])


def test_a_reconnect_storm_gives_its_memory_back(tmp_path: Path) -> None:
    """Sockets of every kind opened and reset, storm after storm: each storm takes RSS up by
    tens of megabytes, and the process gives most of it back within seconds of the storm's
    end, every time (it used to keep it all, and ratchet up with the next one)."""
    args = (*UNCAPPED, "--gc-collect-interval-s", "1")
    with server_process(*args) as server:
        users = [f"u{i}" for i in range(40)]
        chats = [new_chat(server, *users[i % 4 :: 4]) for i in range(20)]
        requests = [
            handshake(path, v1=i % 2 == 1)
            for i in range(1600)
            for path in [
                f"/ws/{chats[i % 20]}?user_id={users[(i // 20) % 10 * 4 + i % 4]}"
                if i % 4 < 2
                else f"/ws?user_id={users[i % 40]}"
            ]
        ]
        reset(open_sockets(server.port, requests[:100]))  # every chat's actor is up
        # Settling, not synchronising: the baseline is the RSS once the periodic collection
        # and trim (every second here) ran a few times over what the warm-up left, and nothing
        # outside the process shows that one ran.
        time.sleep(3)
        baseline = rss_mb(server.pid)
        for storm in range(3):
            reset(open_sockets(server.port, requests))
            peak = rss_mb(server.pid)
            assert peak - baseline > 20, f"storm {storm} took too little memory to tell"
            # Given back: about 60 % of the storm's growth within seconds (it keeps 90 % and
            # more with --memory-allocator pymalloc, and kept all of it before issue 21).
            given_back = baseline + 0.6 * (peak - baseline)
            wait_until(
                lambda: rss_mb(server.pid) <= given_back,  # noqa: B023
                30,
                f"storm {storm}: RSS back from {peak:.0f} MB to {given_back:.0f} MB "
                f"(baseline {baseline:.0f} MB; now {rss_mb(server.pid):.0f} MB)",
            )


def test_the_soft_descriptor_limit_is_raised_to_the_hard_one() -> None:
    with server_process(*UNCAPPED, wrapper=("prlimit", "--nofile=1024:4096")) as server:
        limits = Path(f"/proc/{server.pid}/limits").read_text()
        assert re.search(r"Max open files\s+4096\s+4096", limits), limits
        assert "open files limit raised from 1024 to 4096" in server.log()
        chat_id = new_chat(server, "alice")
        sockets = open_sockets(server.port, [handshake(f"/ws/{chat_id}")] * 1500)
        assert len(sockets) == 1500
        reset(sockets)


def test_a_reset_connection_gives_its_descriptor_back_at_once() -> None:
    # Pings on (every 25 s): Hypercorn's ping task used to hold a reset socket until it woke.
    with server_process(*UNCAPPED, "--ws-ping-interval-s", "25") as server:
        chat_id = new_chat(server, "alice", "bob")
        baseline = descriptors(server.pid)
        sockets = open_sockets(
            server.port,
            [handshake(f"/ws/{chat_id}?user_id=alice")] * 150
            + [handshake(f"/ws/{chat_id}", v1=True)] * 100
            + [handshake("/ws?user_id=bob", v1=True)] * 100,
        )
        # The baseline may still count new_chat's connection, which the server closes a moment
        # after the client: a few descriptors of slack either way.
        assert descriptors(server.pid) >= baseline + 345
        reset(sockets)
        wait_until(lambda: descriptors(server.pid) <= baseline + 5, 5, "descriptors freed")


def test_one_address_gets_at_most_max_connections_per_client() -> None:
    with server_process("--max-connections-per-client", "20") as server:
        chat_id = new_chat(server, "alice")
        # The chat's creation came on a connection of its own, which may still count for a
        # moment after it closed: the first sockets wait for it.
        held: list[socket.socket] = []

        def twenty_held() -> bool:
            with contextlib.suppress(OSError):
                held.extend(open_sockets(server.port, [handshake(f"/ws/{chat_id}")]))
            return len(held) == 20

        wait_until(twenty_held, 10, "20 sockets held")
        assert len(held) == 20
        assert _answers(server.port, "/healthz") is None  # reset at once, unanswered
        held.pop().close()
        wait_until(lambda: _answers(server.port, "/healthz") == 200, 5, "a slot free again")
        with httpx.Client(base_url=server.url) as client:
            reset(held)
            wait_until(lambda: _answers(server.port, "/healthz") == 200, 5, "all free again")
            metrics = client.get("/metrics").text
        refused = re.search(r"^chatactors_tcp_refused_per_client_total (\S+)", metrics, re.M)
        assert refused is not None
        assert float(refused.group(1)) >= 1


def _answers(port: int, path: str) -> int | None:
    try:
        return http_get(port, path)
    except OSError:
        return None


@contextlib.contextmanager
def hog(port: int, count: int, request: bytes) -> Iterator[list[socket.socket]]:
    """``count`` connections opened as fast as the server lets them, each sending ``request``
    (a WebSocket handshake, so that an accepted one stays open: an idle HTTP connection would
    be closed after the keep-alive timeout) and never reading."""
    opened: list[socket.socket] = []
    try:
        for _ in range(count):
            try:
                # A SYN the kernel dropped (a full backlog) is sent again after a second.
                sock = socket.create_connection(("127.0.0.1", port), timeout=3)
            except OSError:
                break  # the server stopped accepting
            opened.append(sock)
            with contextlib.suppress(OSError):  # reset by the server meanwhile
                sock.sendall(request)
        yield opened
    finally:
        reset(opened)


def test_out_of_descriptors_it_serves_what_it_has_and_recovers() -> None:
    # A hard limit it cannot raise: 256 descriptors, a dozen used by the process itself.
    with server_process(*UNCAPPED, wrapper=("prlimit", "--nofile=256:256")) as server:
        chat_id = new_chat(server, "alice")
        watcher = open_sockets(server.port, [handshake(f"/ws/{chat_id}")])[0]
        sender = open_sockets(server.port, [handshake(f"/ws/{chat_id}?user_id=alice", v1=True)])
        try:
            with hog(server.port, 400, handshake(f"/ws/{chat_id}")):
                wait_until(lambda: "accept failed (EMFILE" in server.log(), 10, "EMFILE seen")
                # The connections it has are served: a message sent on one reaches another.
                command = b'{"op": "send", "ref": 1, "type": "text", "content": "still here"}'
                sender[0].sendall(frame(0x1, command))
                watcher.settimeout(10)
                received = b""
                while b"still here" not in received:
                    chunk = watcher.recv(65536)
                    assert chunk, "the watcher was closed"
                    received += chunk
                # A new connection meanwhile is turned away, not left hanging.
                started = time.monotonic()
                assert _answers(server.port, "/healthz") is None
                assert time.monotonic() - started < 5
            # As soon as the hog's descriptors are free, new connections are served again.
            wait_until(lambda: _answers(server.port, "/healthz") == 200, 5, "serving again")
            assert server.log().count("accept failed (EMFILE") <= 2  # said, not repeated
        finally:
            reset([watcher, *sender])


def test_a_peer_that_reads_nothing_is_reset_after_the_write_timeout() -> None:
    with server_process("--write-timeout-s", "1") as server:
        chat_id = new_chat(server, "alice")
        with httpx.Client(base_url=server.url, timeout=20) as client:
            big = {"user_id": "alice", "type": "text", "content": "x" * (4 << 20)}
            for _ in range(3):  # about 12 MB to send: more than the kernel's buffers hold
                assert client.post(f"/chats/{chat_id}/messages", json=big).status_code == 200
            stalled = socket.create_connection(("127.0.0.1", server.port))
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled.sendall(f"GET /chats/{chat_id}/messages HTTP/1.1\r\nHost: x\r\n\r\n".encode())

            def timed_out() -> bool:
                metrics = client.get("/metrics").text
                found = re.search(r"^chatactors_tcp_write_timeouts_total (\S+)", metrics, re.M)
                return found is not None and float(found.group(1)) >= 1

            wait_until(timed_out, 10, "the stalled connection reset")
            stalled.close()
