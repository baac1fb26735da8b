"""The small HTTP/1.1 client, against canned answers from a local trio server (port 0)."""

from collections.abc import Awaitable, Callable
from functools import partial

import pytest
import trio

from chatactors.bench.httpclient import HttpConnection, HttpError, HttpPool, Target

Handler = Callable[[trio.SocketStream], Awaitable[None]]


async def _read_request(stream: trio.SocketStream, buffer: bytearray) -> bytes | None:
    """Read one request (head plus Content-Length body); None at end of stream."""
    while b"\r\n\r\n" not in buffer:
        data = await stream.receive_some(65536)
        if not data:
            return None
        buffer += data
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        rest += await stream.receive_some(65536)
    buffer[:] = rest[length:]
    return head + b"\r\n\r\n" + rest[:length]


async def _serve(nursery: trio.Nursery, handler: Handler) -> str:
    listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_target_parse() -> None:
    target = Target.parse("http://localhost:8123/api/")
    assert (target.host, target.port, target.prefix) == ("localhost", 8123, "/api")
    assert Target.parse("http://127.0.0.1").port == 80
    with pytest.raises(ValueError, match="only http"):
        Target.parse("https://127.0.0.1:8000")


async def test_keep_alive_reuses_one_connection() -> None:
    connections = 0
    requests: list[bytes] = []

    async def handler(stream: trio.SocketStream) -> None:
        nonlocal connections
        connections += 1
        buffer = bytearray()
        while (request := await _read_request(stream, buffer)) is not None:
            requests.append(request)
            await stream.send_all(b"HTTP/1.1 201 Created\r\nContent-Length: 7\r\n\r\n[1,2,3]")

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            pool = HttpPool(await _serve(nursery, handler), size=1)
            first = await pool.post_json("/chats", {"a": 1})
            second = await pool.request("GET", "/chats/x/messages?limit=5")
            await pool.aclose()
            nursery.cancel_scope.cancel()
    assert (first.status, first.ok, first.json()) == (201, True, [1, 2, 3])
    assert second.json() == [1, 2, 3]
    assert connections == 1
    assert requests[0].startswith(b"POST /chats HTTP/1.1\r\n")
    assert requests[0].endswith(b'\r\n\r\n{"a":1}')
    assert b"Content-Length: 7\r\n" in requests[0]
    assert requests[1].startswith(b"GET /chats/x/messages?limit=5 HTTP/1.1\r\n")


async def test_chunked_body_and_connection_close_reconnects() -> None:
    connections = 0

    async def handler(stream: trio.SocketStream) -> None:
        nonlocal connections
        connections += 1
        buffer = bytearray()
        await _read_request(stream, buffer)
        await stream.send_all(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            b'4\r\n{"de\r\n9;ext=1\r\ntail": 1}\r\n0\r\n\r\n'
        )
        await stream.aclose()

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            conn = HttpConnection(Target.parse(await _serve(nursery, handler)))
            first = await conn.request("GET", "/a")
            second = await conn.request("GET", "/b")
            await conn.aclose()
            nursery.cancel_scope.cancel()
    assert (first.status, first.ok) == (404, False)
    assert first.json() == {"detail": 1}
    assert second.status == 404
    assert connections == 2


async def test_server_closing_mid_answer_is_an_http_error() -> None:
    async def handler(stream: trio.SocketStream) -> None:
        await _read_request(stream, bytearray())
        await stream.send_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
        await stream.aclose()

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            conn = HttpConnection(Target.parse(await _serve(nursery, handler)))
            with pytest.raises(HttpError, match="closed"):
                await conn.request("GET", "/")
            nursery.cancel_scope.cancel()


async def test_garbage_answer_is_an_http_error() -> None:
    async def handler(stream: trio.SocketStream) -> None:
        await _read_request(stream, bytearray())
        await stream.send_all(b"SMTP ready\r\n\r\n")

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            conn = HttpConnection(Target.parse(await _serve(nursery, handler)))
            with pytest.raises(HttpError, match="status line"):
                await conn.request("GET", "/")
            nursery.cancel_scope.cancel()


async def test_refused_connection_is_an_http_error() -> None:
    async with trio.open_nursery() as nursery:
        url = await _serve(nursery, lambda stream: stream.aclose())
        nursery.cancel_scope.cancel()
    with trio.fail_after(5), pytest.raises(HttpError):
        await HttpConnection(Target.parse(url)).request("GET", "/")
