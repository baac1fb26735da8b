"""chatactors.compat.hypercorn against the Hypercorn installed: the version is the one pinned,
what it replaces or calls still exists in the shape it relies on, and the replacements do what
they say, over a real socket."""

from __future__ import annotations

import inspect
import struct
import zlib
from pathlib import Path

import hypercorn.protocol.h2
import hypercorn.protocol.h11
import hypercorn.trio.task_group
import pytest
import trio
from hypercorn.protocol.events import Request
from hypercorn.protocol.ws_stream import ASGIWebsocketState, WSStream
from hypercorn.trio.lifespan import Lifespan
from hypercorn.trio.run import worker_serve
from hypercorn.trio.tcp_server import MAX_RECV, TCPServer
from hypercorn.trio.worker_context import WorkerContext

from chatactors.compat import hypercorn as compat
from tests.compat.upstream import check_pin, parameters
from tests.hardening.raw_socket import frame
from tests.harness.served_app import ServedApp, served_app, served_settings

HANDSHAKE = (
    "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
)


#: Upstream's callables that chatactors.compat.hypercorn overrides (O) or calls (C), with the
#: parameters it was written for (Hypercorn 0.17.3 and 0.18.0 have the same).
SIGNATURES = {
    WSStream.handle: "(self, event)",  # O: ChatWSStream.handle
    WSStream._accept: "(self, message)",  # O: ChatWSStream._accept
    WSStream.app_send: "(self, message)",  # O: ChatWSStream.app_send
    WSStream._send_wsproto_event: "(self, event)",  # C: the app's ping
    TCPServer._read_data: "(self)",  # O: ChatTCPServer._read_data
    TCPServer.__init__: "(self, app, config, context, state, stream)",  # C: per connection
    WorkerContext.__init__: "(self, max_requests)",  # C: ConnectionProtocol's context
    Lifespan.__init__: "(self, app, config, state)",  # C: open_lifespan
    Lifespan.handle_lifespan: "(self, *, task_status=TASK_STATUS_IGNORED)",  # C: open_lifespan
    Lifespan.wait_for_startup: "(self)",  # C: open_lifespan
    Lifespan.wait_for_shutdown: "(self)",  # C: open_lifespan
    # How Hypercorn calls an app (_HypercornCalling takes the same arguments).
    hypercorn.trio.task_group._handle: (
        "(app, config, scope, receive, send, sync_spawn, call_soon)"
    ),
    # Replaced as a whole by chatactors.serve.serve_app with chatactors.connections.
    worker_serve: (
        "(app, config, *, sockets=None, shutdown_trigger=None, task_status=TASK_STATUS_IGNORED)"
    ),
}


def test_the_installed_hypercorn_is_the_one_pinned_and_checked() -> None:
    check_pin("hypercorn", compat.PINNED)


@pytest.mark.parametrize(
    ("function", "recorded"), list(SIGNATURES.items()), ids=lambda x: getattr(x, "__qualname__", "")
)
def test_upstream_signatures_are_the_ones_recorded(function: object, recorded: str) -> None:
    assert parameters(function) == recorded


def test_upstream_still_has_what_the_overrides_rely_on() -> None:
    # The names replaced, built by name in these modules.
    for module in (hypercorn.protocol.h11, hypercorn.protocol.h2):
        assert getattr(module, "WSStream", None) in (WSStream, compat.ChatWSStream)
    # How Hypercorn calls an app: the two extra arguments, the ones _HypercornCalling drops.
    assert "await app(scope, receive, send, sync_spawn, call_soon)" in inspect.getsource(
        hypercorn.trio.task_group._handle
    )
    # The shared flag ConnectionProtocol.announce_shutdown sets, and the idle timer that reads it.
    assert "self.context.terminated.wait()" in inspect.getsource(TCPServer._idle_timeout)
    assert {"headers", "http_version", "method", "raw_path", "state"} <= set(
        Request.__dataclass_fields__
    )
    assert ASGIWebsocketState.CONNECTED
    assert MAX_RECV == 2**16
    # Upstream's read loop is the one ChatTCPServer rewrites: a fail_after per receive.
    source = inspect.getsource(TCPServer._read_data)
    assert "fail_after(self.config.read_timeout or inf)" in source
    assert "receive_some(MAX_RECV)" in source
    # Upstream's stream still queues what the app gets through app_put, set at the request.
    assert "self.app_put = await self.task_group.spawn_app(" in inspect.getsource(WSStream.handle)


def test_install_replaces_both_builders_once_and_refuses_a_stranger(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compat.install()
    compat.install()  # idempotent
    for module in (hypercorn.protocol.h11, hypercorn.protocol.h2):
        assert getattr(module, "WSStream", None) is compat.ChatWSStream
    monkeypatch.setattr(hypercorn.protocol.h11, "WSStream", object)
    with pytest.raises(RuntimeError, match="needs updating"):
        compat.install()


async def _upgrade(served: ServedApp, path: str) -> tuple[trio.SocketStream, bytes]:
    stream = await trio.open_tcp_stream("127.0.0.1", served.port)
    await stream.send_all(HANDSHAKE.format(path=path).encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += await stream.receive_some(4096)
    return stream, answer


async def test_permessage_deflate_is_never_negotiated(tmp_path: Path) -> None:
    async with served_app(served_settings(tmp_path, store="memory")) as served:
        chat_id = await served.new_chat("alice")
        stream, answer = await _upgrade(served, f"/ws/{chat_id}")
        async with stream:
            head = answer.split(b"\r\n\r\n")[0].lower()
            assert head.startswith(b"http/1.1 101")
            assert b"sec-websocket-extensions" not in head


async def test_a_compressed_frame_is_refused_without_being_inflated(tmp_path: Path) -> None:
    """RSV1 marks a compressed frame; with nothing negotiated it is a protocol error and the
    connection ends, whatever the frame would inflate to (here 64 MiB of zeros from 65 kB,
    which a negotiated deflate inflated in full before measuring it)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = compressor.compress(b"\0" * (64 << 20)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    async with served_app(served_settings(tmp_path, store="memory")) as served:
        chat_id = await served.new_chat("alice")
        before = _rss_mb()
        stream, _ = await _upgrade(served, f"/ws/{chat_id}")
        async with stream:
            raw = bytearray(frame(0x1, bomb))
            raw[0] |= 0x40  # RSV1
            await stream.send_all(bytes(raw))
            received = b""
            with trio.fail_after(10):
                while chunk := await stream.receive_some(4096):
                    received += chunk
        # Ended (wsproto refuses the frame; Hypercorn closes without a close frame, or with
        # 1002), and nothing near 64 MiB was ever allocated for it.
        if received:
            assert received[0] & 0x0F == 0x8
            assert struct.unpack("!H", received[2:4])[0] == 1002
        assert _rss_mb() - before < 32


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def test_pings_come_from_the_socket_and_a_silent_peer_is_closed(tmp_path: Path) -> None:
    settings = served_settings(tmp_path, store="memory", ws_ping_interval_s=0.2)
    async with served_app(settings) as served:
        chat_id = await served.new_chat("alice")
        stream, _ = await _upgrade(served, f"/ws/{chat_id}")
        async with stream:
            pings = 0
            with trio.fail_after(10):
                # The peer never answers: pings come, then (2.5 intervals of silence, rounded up
                # to a second) the connection is closed.
                while chunk := await stream.receive_some(4096):
                    pings += chunk.count(b"\x89\x00")
            assert pings >= 2


def test_a_ping_after_the_close_is_never_sent() -> None:
    """The ping message is ignored on a stream that is not connected (nothing may follow a
    close frame)."""
    stream = compat.ChatWSStream.__new__(compat.ChatWSStream)
    stream.closed = False
    stream.state = ASGIWebsocketState.CLOSED
    sent: list[object] = []

    async def send_event(event: object) -> None:
        sent.append(event)

    stream._send_wsproto_event = send_event  # type: ignore[method-assign]
    trio.run(stream.app_send, {"type": compat.PING_MESSAGE})  # type: ignore[arg-type]
    assert sent == []
    stream.state = ASGIWebsocketState.CONNECTED
    trio.run(stream.app_send, {"type": compat.PING_MESSAGE})  # type: ignore[arg-type]
    assert len(sent) == 1
