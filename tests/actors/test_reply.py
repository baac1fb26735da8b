"""Reply: a callback told of the answer, in the answering task, once, without unwrapping it."""

from __future__ import annotations

import outcome

from chatactors.actors.reply import Reply
from chatactors.domain.errors import ChatNotFound


def test_a_callback_hears_the_answer_once_and_the_waiter_still_gets_it() -> None:
    heard: list[outcome.Outcome[int]] = []
    reply: Reply[int] = Reply()
    reply.call_when_answered(heard.append)
    assert heard == []
    reply.set(7)
    reply.set(8)  # only the first answer counts
    assert heard == [outcome.Value(7)]
    assert reply.result() == 7  # not unwrapped by the callback


def test_a_callback_given_after_the_answer_is_called_at_once() -> None:
    heard: list[outcome.Outcome[int]] = []
    reply: Reply[int] = Reply()
    error = ChatNotFound("c1")
    reply.fail(error)
    reply.call_when_answered(heard.append)
    assert len(heard) == 1
    assert isinstance(heard[0], outcome.Error)
    assert heard[0].error is error
