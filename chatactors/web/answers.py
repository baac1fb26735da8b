"""Waiting for a command's answer until a deadline, and saying truthfully what a missing answer
means: "nothing changed" (503) only when that is so, else "outcome unknown" (504)."""

from __future__ import annotations

from typing import TypeVar

import trio

from chatactors.actors.reply import Reply
from chatactors.domain.errors import OutcomeUnknown

T = TypeVar("T")


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
