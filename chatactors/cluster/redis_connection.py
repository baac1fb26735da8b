"""RedisConnection: one connection to Redis on a Trio stream, RESP packed and parsed by hiredis.

Why not a general client: coredis (the maintained async client that runs on Trio, through
AnyIO) costs about 450 µs of CPU per command here, against about 115 µs through this module, and
a received Pub/Sub message about 2x what it costs here (``benchmarks/redis_client_cost.py``;
BENCHMARKS.md, "Cluster mode"): its connection hands every command to a writer task and every
reply back from a reader task, through AnyIO streams and cancel scopes. The cluster
sends several Redis messages per chat message, so that difference decided the goal of cluster
mode. What the cluster needs is small (a few commands, pipelines, scripts, Pub/Sub), and hiredis
(the parser redis-py uses) does the protocol; this module only moves bytes.

A connection is used by one task at a time (``RedisLink`` pools them); a Pub/Sub connection
is read by one task and written by another (``Channels``).
"""

from __future__ import annotations

import select
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import attrs
import hiredis
import trio

#: What a command's arguments may be.
Arg = str | bytes | int | float

_RECEIVE_SIZE = 64 * 1024


def pack(*args: Arg) -> bytes:
    """One command in RESP."""
    # hiredis's stub types the argument as a 1-tuple; it takes any tuple of arguments.
    packed: bytes = hiredis.pack_command(args)  # type: ignore[arg-type]
    return packed


_SKIP_REPLY = pack("CLIENT", "REPLY", "SKIP")


class RedisRefused(ConnectionError):
    """Redis refused the connection itself (a wrong password, a database it does not have):
    to the node, that Redis is unreachable, whatever the command."""

    def __init__(self, address: RedisAddress, reason: str) -> None:
        super().__init__(f"Redis at {address.where}: {reason}")
        self.reason = reason


class RedisReplyError(Exception):
    """Redis answered a command with an error (a bug in a script, a wrong type): not a
    transport failure, so it is never retried or turned into 503 by itself."""


@attrs.frozen
class RedisAddress:
    host: str
    port: int
    db: int = 0
    username: str | None = None
    password: str | None = None
    #: A Unix socket's path (a ``unix://`` URL), used instead of host and port.
    socket_path: str | None = None

    @classmethod
    def from_url(cls, url: str) -> RedisAddress:
        """``redis://[[user]:password@]host[:port][/db]``, or for a Redis on this machine
        ``unix://[[user]:password@]/path/redis.sock[?db=N]`` (redis-py's form: a Redis that
        listens on no TCP port). ``ValueError`` says what is wrong."""
        parts = urlsplit(url)
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        if parts.scheme == "unix":
            query = parse_qs(parts.query)
            db = query.get("db", ["0"])[-1]
            if not parts.path.startswith("/") or parts.hostname:
                raise ValueError(f"a Redis URL for a Unix socket is unix:///its/path: {url!r}")
            if not db.isdigit():
                raise ValueError(f"a Redis URL's db is a database number: {url!r}")
            password = query.get("password", [password])[-1]
            return cls("", 0, int(db), username, password, socket_path=parts.path)
        if parts.scheme != "redis":
            raise ValueError(f"a Redis URL starts with redis:// or unix://, not {url!r}")
        if not parts.hostname:
            raise ValueError(f"a Redis URL names a host: {url!r}")
        path = parts.path.strip("/")
        if path and not path.isdigit():
            raise ValueError(f"a Redis URL's path is a database number: {url!r}")
        return cls(parts.hostname, parts.port or 6379, int(path or 0), username, password)

    @property
    def where(self) -> str:
        """Where Redis is, for messages (never the password)."""
        return self.socket_path or f"{self.host}:{self.port}"

    async def connect(self) -> trio.SocketStream:
        if self.socket_path is not None:
            return await trio.open_unix_socket(self.socket_path)
        return await trio.open_tcp_stream(self.host, self.port)


@attrs.define(eq=False)
class RedisConnection:
    """Commands are sent and their replies read by the caller itself: no task hop."""

    _stream: trio.SocketStream
    _reader: hiredis.Reader = attrs.field(factory=hiredis.Reader)

    @classmethod
    async def open(cls, address: RedisAddress) -> RedisConnection:
        """Connect, authenticate and select the database; transport errors propagate
        (``OSError``; ``RedisRefused`` when Redis refuses the password or the database); the
        caller bounds the time."""
        stream = await address.connect()
        connection = cls(stream)
        try:
            setup: list[Sequence[Arg]] = []
            if address.password is not None:
                user = [address.username] if address.username else []
                setup.append(["AUTH", *user, address.password])
            if address.db:
                setup.append(["SELECT", address.db])
            if setup:
                for reply in await connection.execute_many(setup):
                    if isinstance(reply, RedisReplyError):
                        raise RedisRefused(address, str(reply))
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
        and no wake-up at all; a refusal of one goes unnoticed.
        """
        quiet = quiet or [False] * len(commands)
        await self.send(
            b"".join(
                (_SKIP_REPLY + pack(*command)) if silent else pack(*command)
                for command, silent in zip(commands, quiet, strict=True)
            )
        )
        return [None if silent else await self.receive() for silent in quiet]

    async def send(self, data: bytes) -> None:
        await self._stream.send_all(data)

    async def receive(self) -> Any:
        """The next reply (a Pub/Sub message on a subscribed connection); ``OSError``-like
        ``trio.BrokenResourceError`` or ``EOFError`` when the connection ends."""
        while True:
            reply = self._reader.gets()
            if reply is not False:
                if isinstance(reply, hiredis.ReplyError):
                    return RedisReplyError(str(reply))
                return reply
            data = await self._stream.receive_some(_RECEIVE_SIZE)
            if not data:
                raise EOFError("Redis closed the connection")
            self._reader.feed(data)

    def idle_and_open(self) -> bool:
        """Whether an idle connection can take a command: nothing readable on it (Redis closes
        idle connections when it stops or restarts, and then EOF is readable)."""
        poller = select.poll()
        poller.register(self._stream.socket.fileno(), select.POLLIN)
        return not poller.poll(0)

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self._stream)
