"""Reply: a one-shot slot through which an actor answers a caller without ever blocking.

A 0-buffer channel would make the actor wait for a caller that may have been cancelled; setting
an Event never waits.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import attrs
import outcome
import trio

T = TypeVar("T")


@attrs.define(eq=False)
class Reply(Generic[T]):
    _event: trio.Event = attrs.field(factory=trio.Event)
    _outcome: outcome.Outcome[T] | None = None

    def set(self, value: T) -> None:
        """Answer with a value. Never blocks; only the first answer counts."""
        if self._outcome is None:
            self._outcome = outcome.Value(value)
            self._event.set()

    def fail(self, error: BaseException) -> None:
        """Answer with an error that ``wait()`` raises in the caller."""
        if self._outcome is None:
            self._outcome = outcome.Error(error)
            self._event.set()

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
