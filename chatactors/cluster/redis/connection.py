"""RedisConnection: one connection to Redis on a Trio stream, RESP packed and parsed by hiredis.

Why not a general client: coredis (the maintained async client that runs on Trio, through
AnyIO) costs about 450 µs of CPU per command here, against about 115 µs through this module, and
a received Pub/Sub message about 2x what it costs here; Valkey GLIDE (a Rust core, Trio through
AnyIO) 2 to 3x per command, and it reports a rejected TLS certificate only as a connection timeout
(``benchmarks/redis_client_cost.py``; BENCHMARKS.md, "Cluster mode"). What the cluster needs is
small (a few commands, pipelines, scripts, Pub/Sub), and hiredis (the parser redis-py uses) does
the protocol; this module only moves bytes.

Over TCP (TLS on top for ``rediss://``, the server's certificate and host name verified) or a
Unix socket; TCP keepalive is on, so a connection to a host that vanished without closing it
ends within about a minute instead of hours (and load balancers see it alive while idle).

A connection is used by one task at a time (``RedisLink`` pools them); a Pub/Sub connection
is read by one task and written by another (``Channels``).
"""

from __future__ import annotations

import select
import socket
import ssl
from collections.abc import Sequence
from typing import Any

import attrs
import hiredis
import trio

from chatactors.cluster.redis.address import RedisAddress
from chatactors.cluster.redis.errors import (
    RedisRefused,
    RedisReplyError,
    RedisTlsRejected,
    tls_reason,
)

#: What a command's arguments may be.
Arg = str | bytes | int | float

_RECEIVE_SIZE = 64 * 1024
#: What ``receive_buffered`` returns when no whole reply is waiting (hiredis's own marker: no
#: reply Redis sends parses to False).
NOTHING_BUFFERED: Any = False
#: TCP keepalive: probes after this long idle, this often, this many unanswered before the
#: kernel gives the connection up (Linux; about a minute in all).
KEEPALIVE_IDLE_S = 30
KEEPALIVE_INTERVAL_S = 10
KEEPALIVE_PROBES = 3


def pack(*args: Arg) -> bytes:
    """One command in RESP."""
    # hiredis's stub types the argument as a 1-tuple; it takes any tuple of arguments.
    packed: bytes = hiredis.pack_command(args)  # type: ignore[arg-type]
    return packed


_SKIP_REPLY = pack("CLIENT", "REPLY", "SKIP")


def _keep_alive(sock: trio.socket.SocketType) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE_S),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL_S),
        ("TCP_KEEPCNT", KEEPALIVE_PROBES),
    ):
        if hasattr(socket, option):  # Linux; elsewhere the system's defaults apply
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)


async def open_stream(
    address: RedisAddress, tls: ssl.SSLContext | None
) -> tuple[trio.abc.Stream, trio.socket.SocketType]:
    """A connected stream to Redis (TLS handshake done for ``rediss://``), and its socket.
    Transport errors propagate; ``RedisTlsRejected`` if the handshake fails (a certificate
    this client does not trust, or one for another host)."""
    if address.socket_path is not None:
        unix = await trio.open_unix_socket(address.socket_path)
        return unix, unix.socket
    tcp = await trio.open_tcp_stream(address.host, address.port)
    _keep_alive(tcp.socket)
    if not address.tls:
        return tcp, tcp.socket
    if tls is None:
        tls = ssl.create_default_context()
    stream = trio.SSLStream(tcp, tls, server_hostname=address.host)
    try:
        await stream.do_handshake()
    except BaseException as error:
        await trio.aclose_forcefully(tcp)
        reason = tls_reason(error)
        if reason is not None:
            raise RedisTlsRejected(address.where, reason) from error
        raise
    return stream, tcp.socket


@attrs.define(eq=False)
class RedisConnection:
    """Commands are sent and their replies read by the caller itself: no task hop."""

    _stream: trio.abc.Stream
    _socket: trio.socket.SocketType
    _reader: hiredis.Reader = attrs.field(factory=hiredis.Reader)
    #: Whether Redis lets this connection skip replies (``CLIENT REPLY``: a managed Redis or
    #: an ACL may refuse it); if not, "quiet" commands are sent plainly and their replies read.
    can_skip_replies: bool = False

    @classmethod
    async def open(
        cls, address: RedisAddress, tls: ssl.SSLContext | None = None
    ) -> RedisConnection:
        """Connect, authenticate and select the database; transport errors propagate
        (``OSError``; ``RedisRefused`` when Redis refuses the password or the database,
        ``RedisTlsRejected`` when its certificate is not trusted); the caller bounds the time."""
        stream, sock = await open_stream(address, tls)
        connection = cls(stream, sock)
        try:
            setup: list[Sequence[Arg]] = []
            if address.password is not None:
                user = [address.username] if address.username else []
                setup.append(["AUTH", *user, address.password])
            if address.db:
                setup.append(["SELECT", address.db])
            # In the same round trip: whether quiet commands may skip their replies.
            *answers, skip = await connection.execute_many([*setup, ["CLIENT", "REPLY", "ON"]])
            for reply in answers:
                if isinstance(reply, RedisReplyError):
                    raise RedisRefused(address.where, str(reply))
            connection.can_skip_replies = skip == b"OK"
        except BaseException:
            await connection.aclose()
            raise
        return connection

    async def execute_many(
        self, commands: Sequence[Sequence[Arg]], quiet: Sequence[bool] = ()
    ) -> list[Any]:
        """Send the commands together (one write) and read their replies in order; a refused
        command's reply is its ``RedisReplyError``, returned, not raised.

        A command marked ``quiet`` is sent after ``CLIENT REPLY SKIP``: Redis runs it and
        answers nothing (its reply here is None), so a batch of quiet commands costs no read
        and no wake-up at all; a refusal of one goes unnoticed. (A Redis that does not allow
        skipping replies answers them, read and dropped here: the same result, with reads.)
        """
        quiet = quiet or [False] * len(commands)
        skipped = [silent and self.can_skip_replies for silent in quiet]
        await self.send(
            b"".join(
                (_SKIP_REPLY + pack(*command)) if skip else pack(*command)
                for command, skip in zip(commands, skipped, strict=True)
            )
        )
        replies = [None if skip else await self.receive() for skip in skipped]
        return [None if silent else reply for silent, reply in zip(quiet, replies, strict=True)]

    async def send(self, data: bytes) -> None:
        await self._stream.send_all(data)

    def receive_buffered(self) -> Any:
        """The next reply if one has already arrived whole, else ``NOTHING_BUFFERED`` (no
        checkpoint, no system call)."""
        reply = self._reader.gets()
        if reply is False:
            return NOTHING_BUFFERED
        if isinstance(reply, hiredis.ReplyError):
            return RedisReplyError(str(reply))
        return reply

    async def receive(self) -> Any:
        """The next reply (a Pub/Sub message on a subscribed connection); one of
        ``errors.TRANSPORT_ERRORS`` when the connection ends (``EOFError``) or breaks."""
        while True:
            reply = self._reader.gets()
            if reply is not False:
                if isinstance(reply, hiredis.ReplyError):
                    return RedisReplyError(str(reply))
                return reply
            data = await self._stream.receive_some(_RECEIVE_SIZE)
            if not data:
                raise EOFError("Redis closed the connection")
            self._reader.feed(data)  # type: ignore[arg-type]  # any buffer (TLS: a bytearray)

    def idle_and_open(self) -> bool:
        """Whether an idle connection can take a command: nothing readable on it (Redis closes
        idle connections when it stops or restarts, and then EOF is readable)."""
        poller = select.poll()
        poller.register(self._socket.fileno(), select.POLLIN)
        return not poller.poll(0)

    def close_now(self) -> None:
        """Close the socket at once (no TLS goodbye): for idle connections given up."""
        self._socket.close()

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self._stream)
