"""How long a request body may take to arrive: a deadline that the bytes received push back.

A body must arrive whole within ``timeout_s``; with a minimum rate, it must also keep pace
after a grace period: by ``t`` seconds after the request began, ``(t - grace_s) *
min_bytes_per_s`` bytes must have arrived. So each byte buys ``1 / min_bytes_per_s`` seconds
past the grace: a client that stalls (a tunnel, a network handover) lives on the time its
earlier bytes bought, and one that trickles (a byte a minute) is cut off soon after the grace.
Pure: the connection (web/connection.py) asks for the deadline after each chunk.
"""

from __future__ import annotations

import math

import attrs

from chatactors.settings import Settings


@attrs.frozen
class BodyPace:
    #: The whole body within this many seconds (None: no total deadline).
    timeout_s: float | None
    #: Any pace is fine for this long.
    grace_s: float = 0.0
    #: After the grace, at least this many bytes per second on average (0: no minimum).
    min_bytes_per_s: float = 0.0

    @classmethod
    def of_bodies(cls, settings: Settings) -> BodyPace:
        """Every body but an upload: small, so only a total deadline."""
        return cls(settings.body_timeout_s or None)

    @classmethod
    def of_uploads(cls, settings: Settings) -> BodyPace:
        return cls(
            settings.upload_timeout_s or None,
            settings.upload_grace_s,
            settings.upload_min_bytes_per_s,
        )

    def deadline(self, started: float, received: int) -> float:
        """When a body begun at ``started`` that has ``received`` bytes so far is too slow
        (same clock as ``started``; ``math.inf``: never)."""
        last = math.inf if self.timeout_s is None else started + self.timeout_s
        if self.min_bytes_per_s <= 0:
            return last
        return min(last, started + self.grace_s + received / self.min_bytes_per_s)

    def describe(self) -> str:
        """The rule, for a 408's detail."""
        rules = []
        if self.min_bytes_per_s > 0:
            rules.append(
                f"at least {self.min_bytes_per_s:g} bytes/s on average after {self.grace_s:g} s"
            )
        if self.timeout_s is not None:
            rules.append(f"whole within {self.timeout_s:g} s")
        return ", ".join(rules) or "no limit"
