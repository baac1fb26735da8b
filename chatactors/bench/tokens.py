"""Message identity: every bench message carries a unique token in its `content`.

The token names the worker, a per-worker sequence number and the monotonic send time, so a
receiver can compute latency and detect loss or duplication without any server extension
(the reference server has no `seq`). `time.monotonic_ns()` is CLOCK_MONOTONIC on Linux, shared
by every process of the machine, so a token minted by one worker process can be timed by another.
"""

from __future__ import annotations

import attrs

PREFIX = "bench:"
WARMUP_PREFIX = "warmup:"


@attrs.frozen
class Token:
    """The parsed identity of one bench message."""

    worker: int
    """Index of the worker process that sent it."""
    n: int
    """Sequence number of the message within its worker, from 0."""
    send_ns: int
    """`time.monotonic_ns()` just before the message was sent."""

    def encode(self) -> str:
        """The `content` string that carries this token."""
        return f"{PREFIX}{self.worker}:{self.n}:{self.send_ns}"


def parse_token(content: object) -> Token | None:
    """Parse a message `content`; None if it is not a well-formed bench token."""
    if not isinstance(content, str) or not content.startswith(PREFIX):
        return None
    parts = content[len(PREFIX) :].split(":")
    if len(parts) != 3:
        return None
    try:
        worker, n, send_ns = (int(p) for p in parts)
    except ValueError:
        return None
    if worker < 0 or n < 0 or send_ns < 0:
        return None
    return Token(worker=worker, n=n, send_ns=send_ns)
