"""Waiting for a command's answer until a deadline, and saying truthfully what a missing answer
means: "nothing changed" (503) only when that is so, else "outcome unknown" (504)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from types import TracebackType
from typing import TypeVar

import trio

from chatactors.actors.reply import Reply
from chatactors.domain.errors import OutcomeUnknown
from chatactors.web.services import services

T = TypeVar("T")


class _Deadline:
    """``trio.fail_at`` without its two generator context managers (on every request)."""

    __slots__ = ("_scope",)

    def __init__(self, deadline: float) -> None:
        self._scope = trio.CancelScope(deadline=deadline)

    def __enter__(self) -> None:
        self._scope.__enter__()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        handled = self._scope.__exit__(kind, error, traceback)
        if self._scope.cancelled_caught:
            raise trio.TooSlowError
        return handled


def command_deadline(deadline: float | None = None) -> AbstractContextManager[None]:
    """Bound the wait for an actor's answer (by default ``command_timeout_s`` from now); expiry
    becomes a 503, and the command, withdrawn, never runs if it had not begun. Commands that
    change something wait with :func:`answer_by` instead, which tells the two cases apart."""
    return _Deadline(deadline if deadline is not None else new_deadline())


def new_deadline() -> float:
    return trio.current_time() + services().settings.command_timeout_s


async def answer_by(reply: Reply[T], deadline: float, *, unknown: str | None) -> T:
    """The command's answer, if it comes by ``deadline`` (Trio time).

    ``unknown``: the detail of the ``OutcomeUnknown`` to raise when a command that changes
    something began but did not finish in time; None for a command that only reads.

    Raises:
        trio.TooSlowError: no answer, and nothing changed: the command was withdrawn before the
            actor began it (it never runs), or it only reads.
        OutcomeUnknown: when the command had begun (or cannot be withdrawn): it may still take
            effect.
        The command's own ``ChatError``.
    If cancelled (the client left), the command is withdrawn in the same way.
    """
    if not reply.ready:
        try:
            with trio.move_on_at(deadline):
                await reply.answered()
        except BaseException:
            reply.withdraw()
            raise
    if reply.ready:
        return reply.result()
    if reply.withdraw() or unknown is None:
        raise trio.TooSlowError
    raise OutcomeUnknown(unknown)
