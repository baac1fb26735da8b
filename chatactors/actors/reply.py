"""Reply: a one-shot slot through which an actor answers a caller without ever blocking.

A 0-buffer channel would make the actor wait for a caller that may have been cancelled; setting
an Event never waits.

A caller that stops waiting (a timeout, a client gone) withdraws its command: if the actor has
not begun it, it never will, so "nothing changed" is then the truth. Once begun, the command
runs to its end and may take effect, answered or not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import attrs
import outcome
import trio

T = TypeVar("T")


@attrs.define(eq=False)
class Reply(Generic[T]):
    _event: trio.Event = attrs.field(factory=trio.Event)
    _outcome: outcome.Outcome[T] | None = None
    #: Whether an actor calls ``begin`` before running the command (a request in an actor's
    #: inbox). A reply relayed from elsewhere cannot tell, so withdrawing it promises nothing.
    withdrawable: bool = False
    _begun: bool = False
    _withdrawn: bool = False
    _on_answer: Callable[[outcome.Outcome[T]], None] | None = None

    def begin(self) -> bool:
        """The actor is about to run the command: False if it was withdrawn (skip it)."""
        if self._withdrawn:
            return False
        self._begun = True
        return True

    def withdraw(self) -> bool:
        """The caller stops waiting. True if the command will never run (nothing changed);
        False if it has begun or been answered, or if this reply cannot tell."""
        if self._outcome is not None or self._begun or not self.withdrawable:
            return False
        self._withdrawn = True
        return True

    def set(self, value: T) -> None:
        """Answer with a value. Never blocks; only the first answer counts."""
        if self._outcome is None:
            self._outcome = outcome.Value(value)
            self._answered()

    def fail(self, error: BaseException) -> None:
        """Answer with an error that ``wait()`` raises in the caller."""
        if self._outcome is None:
            self._outcome = outcome.Error(error)
            self._answered()

    def _answered(self) -> None:
        self._event.set()
        if self._on_answer is not None and self._outcome is not None:
            self._on_answer(self._outcome)

    def call_when_answered(self, callback: Callable[[outcome.Outcome[T]], None]) -> None:
        """Call ``callback`` with the answer once there is one (at once if there is): in the
        task that answers, so it must neither block nor raise. It must not unwrap the answer
        (``result`` does that, once). For a relay that needs no task of its own to wait."""
        if self._outcome is not None:
            callback(self._outcome)
        else:
            self._on_answer = callback

    @property
    def ready(self) -> bool:
        """True once answered: ``wait()`` will return without blocking."""
        return self._outcome is not None

    async def answered(self) -> None:
        """Wait until answered, without taking the answer (see ``result``)."""
        await self._event.wait()

    def result(self) -> T:
        """The answer (raising its error) once ``ready``; no checkpoint. Take it only once."""
        assert self._outcome is not None, "not answered yet"
        return self._outcome.unwrap()

    async def wait(self) -> T:
        await self._event.wait()
        assert self._outcome is not None
        return self._outcome.unwrap()
