"""What can go wrong talking to Redis, as three kinds of error.

- :class:`RedisUnavailable`: Redis cannot serve the operation now (unreachable, too slow,
  refusing this client, failing over); it may or may not have run; retry later. The link
  raises the subclass its owner chose (an application's own "try again" error).
- :class:`RedisReplyError`: Redis answered a command with an error (a wrong type, a bug in a
  script): the command did not run; retrying it gives the same answer.
- Transport failures (``TRANSPORT_ERRORS``, :class:`RedisRefused`, :class:`RedisTlsRejected`)
  end a connection; the link turns them into :class:`RedisUnavailable`.

Failover replies (:data:`FAILOVER_REPLIES`) are error replies that mean "not now", not "no":
a primary demoted to a replica (``READONLY``), a replica that lost its primary
(``MASTERDOWN``), a server loading its data set (``LOADING``), a cluster slot moving
(``TRYAGAIN``). The link treats them as the server being unavailable, like a reset.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager

import hiredis
import trio


class RedisUnavailable(Exception):
    """Redis could not serve the operation now: retry later (nothing is known to have run)."""

    def __init__(self, detail: str = "Redis is unavailable; retry shortly") -> None:
        super().__init__(detail)


class RedisReplyError(Exception):
    """Redis answered a command with an error: not a transport failure, never retried."""

    @property
    def code(self) -> str:
        """The error's first word (``WRONGTYPE``, ``READONLY``, ``ERR``…)."""
        text = str(self)
        return text.split(" ", 1)[0] if text else ""


class RedisRefused(ConnectionError):
    """Redis refused this client (a wrong password, a database it does not have): to the
    client, that Redis is unavailable, whatever the command."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"Redis at {where}: {reason}")
        self.reason = reason


class RedisTlsRejected(ConnectionError):
    """This client rejected the server's certificate (an unknown CA, a host name the
    certificate does not name, an expired certificate), or the TLS handshake failed."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"Redis at {where}: TLS handshake failed: {reason}")
        self.reason = reason


#: Error replies that mean the server cannot serve now (a failover under way).
FAILOVER_REPLIES = frozenset({"READONLY", "LOADING", "MASTERDOWN", "TRYAGAIN"})
#: Error replies that mean this client is not let in at all (a password set or changed since
#: it connected, say). (``NOPERM``, one command or key an ACL denies, is an ordinary answer.)
REFUSAL_REPLIES = frozenset({"NOAUTH", "WRONGPASS"})

#: What ends a connection: its state is unknown afterwards.
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    hiredis.ProtocolError,  # not RESP: not a Redis, or a stream out of step
)


def is_failover(reply: object) -> bool:
    return isinstance(reply, RedisReplyError) and reply.code in FAILOVER_REPLIES


def is_refusal(reply: object) -> bool:
    return isinstance(reply, RedisReplyError) and reply.code in REFUSAL_REPLIES


def tls_reason(error: BaseException) -> str | None:
    """Why a TLS handshake failed, if ``error`` (or one of its causes) says so; else None."""
    found: BaseException | None = error
    while found is not None:
        if isinstance(found, ssl.SSLCertVerificationError):
            return str(found.verify_message or found)
        if isinstance(found, ssl.SSLError):
            return str(found.reason or found)
        found = found.__cause__
    return None


class RedisFailingOver(ConnectionError):
    """Redis answered with a failover reply (``FAILOVER_REPLIES``): the connection is given
    up, as after a reset (a managed endpoint may lead to the new primary once reconnected)."""

    def __init__(self, where: str, reply: RedisReplyError) -> None:
        super().__init__(f"Redis at {where}: {reply}")
        self.reply = reply


@contextmanager
def single_errors() -> Iterator[None]:
    """Let a lone error through a task group as itself, not wrapped in an ExceptionGroup.

    Connections run in task groups, so whatever the body of ``async with`` raises would reach
    callers wrapped; callers catch ``RedisUnavailable`` (or their own subclass) itself.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        error: BaseException = group
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]
        if error is group:
            raise
        raise error from error.__cause__
