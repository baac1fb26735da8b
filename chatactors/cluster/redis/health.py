"""Health: whether Redis is known to be down, and when the next attempt may go (pure).

The first failure marks Redis down. While it is down, operations are refused at once, except
one at a time once a backoff has passed: that *probe* goes to Redis; its success marks Redis up,
its failure doubles the backoff (up to a bound). Each backoff is jittered (between half and all
of it), so that the nodes of a cluster do not all come back at the same instant. An outage thus
costs Redis one connection attempt per backoff per node, not one per request, and callers an
immediate refusal instead of a wait for a timeout.

Times are ``trio.current_time()`` values and the jitter a number in [0.5, 1], both passed in.
"""

from __future__ import annotations

import enum

import attrs

#: The first backoff after a failure; it doubles with each failed probe up to the maximum, so
#: Redis coming back is noticed within about a second.
FIRST_BACKOFF_S = 0.05
MAX_BACKOFF_S = 1.0


class Attempt(enum.Enum):
    """What an operation may do now."""

    #: Redis is known down and not due for a probe: fail at once.
    REFUSED = "refused"
    #: Redis is up: go ahead.
    ORDINARY = "ordinary"
    #: Redis is down and due for a probe: this operation is it (report how it went).
    PROBE = "probe"


@attrs.define
class Health:
    first_backoff_s: float = FIRST_BACKOFF_S
    max_backoff_s: float = MAX_BACKOFF_S
    #: When Redis was first seen failing, while it is known down (None: up).
    down_since: float | None = None
    _backoff_s: float = 0.0
    _retry_at: float = 0.0
    _probing: bool = False

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def attempt(self, now: float) -> Attempt:
        """Whether an operation may go to Redis now (while Redis is down, one probe per
        backoff, which reports ``succeeded``, ``failed`` or ``abandoned``)."""
        if self.down_since is None:
            return Attempt.ORDINARY
        if self._probing or now < self._retry_at:
            return Attempt.REFUSED
        self._probing = True
        return Attempt.PROBE

    def succeeded(self) -> float | None:
        """Redis answered: it is up. Returns when it went down, if it was (else None)."""
        since, self.down_since = self.down_since, None
        self._probing = False
        self._backoff_s = 0.0
        return since

    def failed(self, now: float, jitter: float, attempt: Attempt) -> bool:
        """An operation failed (Redis unreachable, too slow, refusing, failing over); returns
        whether that made Redis down. A probe's failure doubles the backoff; that of an
        operation that set out before Redis was known down changes nothing more."""
        newly_down = self.down_since is None
        if newly_down:
            self.down_since = now
            self._backoff_s = self.first_backoff_s
        elif attempt is Attempt.PROBE:
            self._backoff_s = min(2 * self._backoff_s, self.max_backoff_s)
        else:
            return False
        self._probing = False
        self._retry_at = now + self._backoff_s * jitter
        return newly_down

    def abandoned(self, attempt: Attempt) -> None:
        """The operation was cancelled before it knew: if it was the probe, the next one may
        probe at once."""
        if attempt is Attempt.PROBE:
            self._probing = False
