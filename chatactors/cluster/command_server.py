"""CommandServer: runs the commands other nodes forward to this node's chats.

Commands are queued in the order they arrive (a bounded queue; when it is full, the sender gets
``Overloaded`` at once, never a wait) and submitted to the local mailbox in that order, so a
sender's pipelined commands keep their order. Each answer is published back to the sender's
node channel as soon as the actor gives it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

import attrs
import outcome
import trio

from chatactors.actors.commands import Command
from chatactors.actors.mailbox import Mailbox
from chatactors.actors.reply import Reply
from chatactors.cluster import codec
from chatactors.cluster.errors import ClusterUnavailable
from chatactors.cluster.forwarder import answer_channel
from chatactors.cluster.redis import Channels
from chatactors.domain.errors import ChatError, Overloaded
from chatactors.domain.ids import ChatId

log = logging.getLogger(__name__)


@attrs.define(eq=False)
class CommandServer:
    _mailbox: Mailbox
    _channels: Channels
    _nursery: trio.Nursery
    _queue: trio.MemorySendChannel[codec.ForwardedCommand]
    _queued: trio.MemoryReceiveChannel[codec.ForwardedCommand]
    #: Told of every answer, to track other nodes' registered sockets.
    on_answered: Callable[[str, ChatId, Command[Any], Any], None] | None = None
    served: int = 0

    @classmethod
    def open(
        cls, mailbox: Mailbox, channels: Channels, nursery: trio.Nursery, queue_size: int
    ) -> CommandServer:
        send, receive = trio.open_memory_channel[codec.ForwardedCommand](queue_size)
        return cls(mailbox, channels, nursery, send, receive)

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
            self._nursery.start_soon(self._answer, forwarded, outcome.Error(Overloaded()))

    async def run(self) -> None:
        async for forwarded in self._queued:
            try:
                reply = await self._mailbox.submit(forwarded.chat_id, forwarded.command)
            except ChatError as error:
                self._nursery.start_soon(self._answer, forwarded, outcome.Error(error))
                continue
            self._nursery.start_soon(self._relay, forwarded, reply)

    async def _relay(self, forwarded: codec.ForwardedCommand, reply: Reply[Any]) -> None:
        await reply.answered()
        await self._answer(forwarded, outcome.capture(reply.result))

    async def _answer(
        self, forwarded: codec.ForwardedCommand, result: outcome.Outcome[Any]
    ) -> None:
        request_id = forwarded.request_id
        if isinstance(result, outcome.Value):
            if self.on_answered is not None:
                self.on_answered(
                    forwarded.reply_to, forwarded.chat_id, forwarded.command, result.value
                )
            answer = codec.ForwardedAnswer(request_id, True, codec.encode_value(result.value))
        else:
            assert isinstance(result, outcome.Error)
            if not isinstance(result.error, ChatError):
                log.error("forwarded command failed", exc_info=result.error)
            answer = codec.ForwardedAnswer(request_id, False, codec.encode_error(result.error))
        self.served += 1
        # If Redis is unreachable, the sender's own timeout answers its caller.
        with contextlib.suppress(ClusterUnavailable):
            data = codec.encode_answer(answer)
            await self._channels.publish_all_quietly([(answer_channel(forwarded.reply_to), data)])
