"""Store calls in worker threads that the caller may give up on, so that a store that hangs (a
paused server, a stalled disk) costs a request at most a timeout.

``trio.to_thread.run_sync(..., abandon_on_cancel=True)`` lets the waiting task leave while its
thread runs on, and whatever the thread then does still happens. So a write must know whether it
had gone out when its caller left: the thread calls ``sending()`` right before the write leaves,
and the caller, giving up, learns under the same lock whether that happened. Either the write
never goes out (nothing changed: ``StoreNotAnswering``, a 503) or it may have (``OutcomeUnknown``,
a 504); never a guess. A thread that starts after its caller left does nothing at all.

A thread given up on keeps its limiter token (and its connection) until it returns. While every
token is held so, calls fail at once: waiting for a token that is not coming would only turn a
quick 503 into a slow one.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import TypeVar

import attrs
import trio

from chatactors.domain.errors import OutcomeUnknown
from chatactors.storage.store import StoreNotAnswering

T = TypeVar("T")
#: Called by a write's thread right before the write goes out (see the module docstring).
Sending = Callable[[], None]


class GaveUp(Exception):
    """Raised in a thread whose caller has left, before anything was sent."""


@attrs.define(eq=False)
class _Call:
    """One call's handshake between its waiting task and its thread (under the owner's lock)."""

    _owner: ThreadCalls
    started: bool = False
    sent: bool = False
    finished: bool = False
    given_up: bool = False
    #: Counted in the owner's ``stuck`` (given up on while its thread ran).
    counted: bool = False

    def run(self, fn: Callable[[Sending], T]) -> T:
        """In the thread."""
        with self._owner._lock:
            if self.given_up:
                raise GaveUp
            self.started = True
        try:
            return fn(self.sending)
        finally:
            with self._owner._lock:
                self.finished = True
                if self.counted:
                    self._owner._stuck -= 1

    def sending(self) -> None:
        """In the thread: the write goes out now, unless the caller has left (``GaveUp``)."""
        with self._owner._lock:
            if self.given_up:
                raise GaveUp
            self.sent = True

    def give_up(self) -> None:
        """In Trio, once the caller leaves; a thread still running counts as stuck."""
        with self._owner._lock:
            self.given_up = True
            self.counted = self.started and not self.finished
            if self.counted:
                self._owner._stuck += 1


@attrs.define(eq=False)
class ThreadCalls:
    """Runs store calls in worker threads under ``limiter``, each answered within ``timeout_s``
    (0: no bound)."""

    limiter: trio.CapacityLimiter
    timeout_s: float
    #: Guards every call's handshake and ``_stuck`` (threads change them too).
    _lock: threading.Lock = attrs.field(factory=threading.Lock)
    _stuck: int = 0

    @property
    def stuck(self) -> int:
        """Threads whose caller gave up on them and that still run (a store not answering)."""
        return self._stuck

    async def read(self, fn: Callable[[], T]) -> T:
        """``fn()`` in a worker thread: a call that changes nothing.

        Raises:
            StoreNotAnswering: no answer within the timeout (the thread may run on).
        """
        return await self.call(lambda _sending: fn())

    async def call(self, fn: Callable[[Sending], T]) -> T:
        """``fn(sending)`` in a worker thread; ``fn`` calls ``sending()`` right before its write
        goes out (a read never calls it).

        Raises:
            StoreNotAnswering: no answer within the timeout, and nothing was sent (nor will be).
            OutcomeUnknown: no answer within the timeout after the write went out: it may yet
                take effect.
            Whatever ``fn`` raises.
        If cancelled, the thread is given up on in the same way (and may run on).
        """
        if self._stuck >= self.limiter.total_tokens:
            raise StoreNotAnswering()
        call = _Call(self)
        timeout = self.timeout_s or math.inf
        try:
            with trio.fail_after(timeout):
                return await trio.to_thread.run_sync(
                    call.run, fn, limiter=self.limiter, abandon_on_cancel=True
                )
        except trio.TooSlowError:
            call.give_up()
            if call.sent:
                raise OutcomeUnknown() from None
            raise StoreNotAnswering() from None
        except BaseException:
            call.give_up()
            raise
