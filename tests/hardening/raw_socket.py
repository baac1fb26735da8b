"""Raw WebSocket and HTTP bytes over TCP, for clients that break the protocol on purpose."""

from __future__ import annotations

import os
import struct
from typing import Any

import attrs
import orjson
import trio

HANDSHAKE = (
    "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def frame(opcode: int, payload: bytes, *, masked: bool = True) -> bytes:
    """One final frame; clients must mask theirs (RFC 6455 5.1), so ``masked=False`` is a fault."""
    length = len(payload)
    mask_bit = 0x80 if masked else 0
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, mask_bit | length)
    else:
        header = struct.pack("!BBH", 0x80 | opcode, mask_bit | 126, length)
    if not masked:
        return header + payload
    key = os.urandom(4)
    return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


async def open_upgraded(port: int, path: str) -> trio.SocketStream:
    """A TCP connection that has completed the WebSocket handshake (101 received)."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(HANDSHAKE.format(path=path).encode())
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = await stream.receive_some(4096)
        if not chunk:
            break
        response += chunk
    assert response.startswith(b"HTTP/1.1 101"), response[:200]
    return stream


# -- HTTP/1.1 -------------------------------------------------------------------------------


def request_head(method: str, path: str, *headers: tuple[str, str]) -> bytes:
    """A request's start line and headers (and the blank line after them)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{n}: {v}" for n, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@attrs.frozen
class RawAnswer:
    status: int
    #: Lower-case names; the last value of a repeated header.
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@attrs.define
class AnswerReader:
    """Reads answers (with a Content-Length) off one connection, in order."""

    stream: trio.SocketStream
    _buffer: bytearray = attrs.field(factory=bytearray)

    async def answer(self) -> RawAnswer:
        while b"\r\n\r\n" not in self._buffer:
            await self._fill()
        head, _, rest = bytes(self._buffer).partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        self._buffer = bytearray(rest)
        while len(self._buffer) < length:
            await self._fill()
        body, self._buffer = bytes(self._buffer[:length]), self._buffer[length:]
        return RawAnswer(int(status_line.split(" ")[1]), headers, body)

    async def closed(self) -> bool:
        """True once the server has closed the connection (end of stream, or a reset), False if
        it sends more bytes first."""
        try:
            return not await self.stream.receive_some(65536)
        except trio.BrokenResourceError:
            return True

    async def _fill(self) -> None:
        chunk = await self.stream.receive_some(65536)
        if not chunk:
            raise EOFError(f"the connection closed mid-answer: {bytes(self._buffer)[:200]!r}")
        self._buffer += chunk
