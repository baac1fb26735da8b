"""Raw WebSocket bytes over TCP, for clients that break the protocol on purpose."""

from __future__ import annotations

import os
import struct

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
