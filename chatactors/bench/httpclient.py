"""A small keep-alive HTTP/1.1 client over `trio.open_tcp_stream`, for plain http:// only.

The bench posts thousands of requests a second from one core; httpx (through anyio) spends
several times more CPU per request than this (see benchmarks/http_client_speed.py). It supports
what the chat API answers with: Content-Length or chunked bodies, keep-alive, `Connection: close`.
A request is never retried, so a failure can never duplicate a message.
"""

from __future__ import annotations

import select
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import attrs
import orjson
import trio

_RECEIVE_SIZE = 65536


def _closed_while_idle(stream: trio.SocketStream) -> bool:
    """Whether an idle connection has something to read: the server's close (EOF)."""
    poller = select.poll()
    poller.register(stream.socket.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class HttpError(Exception):
    """The connection failed or the server answered something that is not HTTP/1.1."""


@attrs.frozen
class Target:
    """Where requests go: a plain http:// base URL split into its parts."""

    host: str
    port: int
    prefix: str
    """Path prefix of the base URL, without a trailing slash ("" for the root)."""

    @classmethod
    def parse(cls, url: str) -> Target:
        """Parse `http://host[:port][/prefix]`.

        Raises:
            ValueError: for another scheme or a URL without a host.
        """
        parts = urlsplit(url)
        if parts.scheme != "http":
            raise ValueError(f"only http:// URLs are supported, not {url!r}")
        if not parts.hostname:
            raise ValueError(f"no host in {url!r}")
        return cls(host=parts.hostname, port=parts.port or 80, prefix=parts.path.rstrip("/"))

    @property
    def authority(self) -> str:
        return f"{self.host}:{self.port}"


@attrs.frozen
class Response:
    status: int
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return orjson.loads(self.body)


def _parse_head(head: bytes) -> tuple[int, dict[bytes, bytes]]:
    lines = head.split(b"\r\n")
    status_line = lines[0].split(b" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1."):
        raise HttpError(f"bad status line {lines[0]!r}")
    try:
        status = int(status_line[1])
    except ValueError as exc:
        raise HttpError(f"bad status line {lines[0]!r}") from exc
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep:
            raise HttpError(f"bad header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    return status, headers


class HttpConnection:
    """One keep-alive connection; reconnects lazily after the server closed it."""

    def __init__(self, target: Target) -> None:
        self._target = target
        self._stream: trio.SocketStream | None = None
        self._buffer = bytearray()

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> Response:
        """Send one request and read its whole response.

        Raises:
            HttpError: the connection failed or the answer was malformed; the connection is
                closed, and the request may or may not have taken effect.
        """
        try:
            return await self._request(method, path, body, content_type)
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            await self.aclose()
            raise HttpError(f"{method} {path}: {exc!r}") from exc
        except BaseException:
            await self.aclose()
            raise

    async def _request(
        self, method: str, path: str, body: bytes | None, content_type: str
    ) -> Response:
        if self._stream is not None and _closed_while_idle(self._stream):
            # The server closes keep-alive connections idle past its timeout (Hypercorn: 5 s);
            # reusing one would fail the request, so open a new one, as HTTP clients do.
            await self.aclose()
        if self._stream is None:
            self._stream = await trio.open_tcp_stream(self._target.host, self._target.port)
            self._buffer.clear()
        head = (
            f"{method} {self._target.prefix}{path} HTTP/1.1\r\nHost: {self._target.authority}\r\n"
        )
        if body is not None:
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        data = head.encode("latin-1") + b"\r\n" + (body or b"")
        await self._stream.send_all(data)
        status, headers = _parse_head(await self._read_until(b"\r\n\r\n"))
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            payload = b""
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            payload = await self._read_chunked()
        elif b"content-length" in headers:
            payload = await self._read_exactly(int(headers[b"content-length"]))
        else:
            payload = await self._read_to_close()
            headers[b"connection"] = b"close"
        if headers.get(b"connection", b"").lower() == b"close":
            await self.aclose()
        return Response(status=status, body=payload)

    async def _fill(self) -> None:
        assert self._stream is not None
        data = await self._stream.receive_some(_RECEIVE_SIZE)
        if not data:
            raise HttpError("connection closed by the server")
        self._buffer += data

    async def _read_until(self, delimiter: bytes) -> bytes:
        while (index := self._buffer.find(delimiter)) < 0:
            await self._fill()
        line = bytes(self._buffer[:index])
        del self._buffer[: index + len(delimiter)]
        return line

    async def _read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            await self._fill()
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    async def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size_line = await self._read_until(b"\r\n")
            try:
                size = int(size_line.split(b";", 1)[0], 16)
            except ValueError as exc:
                raise HttpError(f"bad chunk size {size_line!r}") from exc
            if size == 0:
                while await self._read_until(b"\r\n"):  # trailers, up to the empty line
                    pass
                return b"".join(parts)
            parts.append(await self._read_exactly(size))
            await self._read_until(b"\r\n")

    async def _read_to_close(self) -> bytes:
        assert self._stream is not None
        while data := await self._stream.receive_some(_RECEIVE_SIZE):
            self._buffer += data
        payload = bytes(self._buffer)
        self._buffer.clear()
        return payload

    async def aclose(self) -> None:
        stream, self._stream = self._stream, None
        self._buffer.clear()
        if stream is not None:
            await stream.aclose()


class HttpPool:
    """At most `size` connections to one target, reused across requests."""

    def __init__(self, url: str, size: int) -> None:
        self.target = Target.parse(url)
        self._limiter = trio.Semaphore(size)
        self._idle: list[HttpConnection] = []

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[HttpConnection]:
        """Borrow a connection (waiting while all `size` are busy)."""
        async with self._limiter:
            conn = self._idle.pop() if self._idle else HttpConnection(self.target)
            yield conn
            self._idle.append(conn)

    async def request(self, method: str, path: str, body: bytes | None = None) -> Response:
        """Send one request on a pooled connection (see `HttpConnection.request`)."""
        async with self.connection() as conn:
            return await conn.request(method, path, body)

    async def post_json(self, path: str, value: object) -> Response:
        return await self.request("POST", path, orjson.dumps(value))

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.aclose()
