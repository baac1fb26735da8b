"""CommandServer: runs the commands other nodes forward to this node's chats.

Commands are queued in the order they arrive (a bounded queue; when it is full, the sender gets
``Overloaded`` at once, never a wait) and submitted to the local mailbox in that order, so a
sender's pipelined commands keep their order. Each answer is queued for the sender's node
channel the moment the actor gives it, from the actor's own task (``Reply.call_when_answered``
and ``Publisher.send_nowait``: no task per command, no wait), so that it usually shares a Redis
write with the events the command caused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

import attrs
import outcome
import trio

from chatactors.actors.commands import Command
from chatactors.actors.mailbox import Mailbox
from chatactors.cluster import codec
from chatactors.cluster.errors import ClusterUnavailable
from chatactors.cluster.forwarder import answer_channel
from chatactors.cluster.redis import Publisher
from chatactors.domain.errors import ChatError, ChatUnavailable, Overloaded
from chatactors.domain.ids import ChatId

log = logging.getLogger(__name__)

#: Told of every command answered with a value (sender's node, chat, command, value).
OnAnswered = Callable[[str, ChatId, Command[Any], Any], None]


@attrs.frozen
class CommandServerStatistics:
    #: Commands answered (with a value or an error), and refused because the queue was full.
    served: int
    refused: int
    #: Answers that could not be queued (Redis far behind): their senders time out.
    unanswered: int
    #: Commands waiting to be submitted now.
    queued: int


@attrs.define(eq=False)
class CommandServer:
    _mailbox: Mailbox
    _publisher: Publisher
    _queue: trio.MemorySendChannel[codec.ForwardedCommand]
    _queued: trio.MemoryReceiveChannel[codec.ForwardedCommand]
    #: Told of every answer, to track other nodes' registered sockets.
    _on_answered: OnAnswered
    _served: int = 0
    _refused: int = 0
    _unanswered: int = 0

    @classmethod
    def open(
        cls, mailbox: Mailbox, publisher: Publisher, queue_size: int, on_answered: OnAnswered
    ) -> CommandServer:
        send, receive = trio.open_memory_channel[codec.ForwardedCommand](queue_size)
        return cls(mailbox, publisher, send, receive, on_answered)

    def statistics(self) -> CommandServerStatistics:
        return CommandServerStatistics(
            served=self._served,
            refused=self._refused,
            unanswered=self._unanswered,
            queued=self._queued.statistics().current_buffer_used,
        )

    def on_command(self, data: bytes) -> None:
        """The channel handler for commands addressed to this node (never blocks)."""
        try:
            forwarded = codec.decode_forwarded(data)
        except codec.UndecodableMessage:
            log.warning("undecodable forwarded command")
            return
        try:
            self._queue.send_nowait(forwarded)
        except trio.WouldBlock:
            self._refused += 1
            self._answer(forwarded, outcome.Error(Overloaded()))

    async def run(self) -> None:
        async for forwarded in self._queued:
            try:
                reply = await self._mailbox.submit(forwarded.chat_id, forwarded.command)
            except ChatError as error:
                self._answer(forwarded, outcome.Error(error))
                continue
            reply.call_when_answered(partial(self._answer, forwarded))

    def _answer(self, forwarded: codec.ForwardedCommand, result: outcome.Outcome[Any]) -> None:
        """Queue the answer for the sender (often in the actor's task: never blocks or raises;
        if Redis is unreachable or far behind, the sender's own timeout answers its caller)."""
        self._served += 1
        try:
            data = codec.encode_answer(self._answer_of(forwarded, result))
            self._publisher.send_nowait([("PUBLISH", answer_channel(forwarded.reply_to), data)])
        except ClusterUnavailable:
            self._unanswered += 1
        except Exception:
            self._unanswered += 1
            log.exception("forwarded command not answered")

    def _answer_of(
        self, forwarded: codec.ForwardedCommand, result: outcome.Outcome[Any]
    ) -> codec.ForwardedAnswer:
        request_id = forwarded.request_id
        if isinstance(result, outcome.Value):
            self._on_answered(
                forwarded.reply_to, forwarded.chat_id, forwarded.command, result.value
            )
            return codec.ForwardedAnswer(request_id, True, codec.encode_value(result.value))
        assert isinstance(result, outcome.Error)
        error = result.error
        if not isinstance(error, ChatError):
            log.error("forwarded command failed", exc_info=error)
            error = ChatUnavailable()
        return codec.ForwardedAnswer(request_id, False, codec.encode_error(error))
