"""Forwarder: sends a command to the node that holds the chat and relays its answer.

The caller gets a ``Reply`` just as from a local inbox: the same values, the same errors (by
class and text, see ``codec``). If the node does not answer within ``timeout_s`` (it died, or
Redis lost the message), the reply fails with ``ChatUnavailable``, as a crashed local actor
does, and the caller retries; the command may or may not have taken effect, which is the rule
for a cancelled local call too (idempotent sends use ``client_message_id``).
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, TypeVar

import attrs
import trio

from chatactors.actors.commands import Command
from chatactors.actors.reply import Reply
from chatactors.cluster import codec
from chatactors.cluster.channels import Channels
from chatactors.domain.errors import ChatUnavailable
from chatactors.domain.ids import ChatId

log = logging.getLogger(__name__)
R = TypeVar("R")


def command_channel(node_id: str) -> str:
    """Where a node receives the commands forwarded to it."""
    return f"chatactors:node:{node_id}:commands"


def answer_channel(node_id: str) -> str:
    """Where a node receives the answers to the commands it forwarded."""
    return f"chatactors:node:{node_id}:answers"


@attrs.define(eq=False)
class _Pending:
    command: Command[Any]
    reply: Reply[Any]
    deadline: float


@attrs.define(eq=False)
class Forwarder:
    node_id: str
    _channels: Channels
    timeout_s: float
    _pending: dict[int, _Pending] = attrs.field(factory=dict)
    _ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1))
    _wake: trio.Event = attrs.field(factory=trio.Event)
    forwarded: int = 0
    timed_out: int = 0

    async def submit_to(self, node_id: str, chat_id: ChatId, command: Command[R]) -> Reply[R]:
        """Forward ``command`` to ``node_id``. Raises ``ClusterUnavailable`` if Redis is
        unreachable and ``ChatUnavailable`` if that node is not listening (gone)."""
        request_id = next(self._ids)
        data = codec.encode_forwarded(
            codec.ForwardedCommand(request_id, self.node_id, chat_id, command)
        )
        reply: Reply[R] = Reply()
        self._pending[request_id] = _Pending(command, reply, trio.current_time() + self.timeout_s)
        self._wake.set()
        try:
            listeners = await self._channels.publish(command_channel(node_id), data)
        except BaseException:
            del self._pending[request_id]
            raise
        if listeners == 0:
            self._pending.pop(request_id, None)
            raise ChatUnavailable(f"The node holding chat {chat_id!r} is gone; retry shortly")
        self.forwarded += 1
        return reply

    def on_answer(self, data: bytes) -> None:
        """The channel handler for answers addressed to this node (never blocks)."""
        try:
            answer = codec.decode_answer(data)
        except codec.UndecodableMessage:
            log.warning("undecodable forwarded answer")
            return
        pending = self._pending.pop(answer.request_id, None)
        if pending is None:
            return  # timed out already
        if not answer.ok:
            pending.reply.fail(codec.decode_error(answer.payload))
            return
        try:
            pending.reply.set(codec.decode_value(pending.command, answer.payload))
        except codec.UndecodableMessage as error:
            pending.reply.fail(ChatUnavailable())
            log.warning("undecodable forwarded value: %s", error)

    async def expire(self) -> None:
        """Fail the replies nobody answered in time. Runs for the forwarder's lifetime.

        All requests get the same timeout, so the oldest pending one expires first.
        """
        while True:
            if not self._pending:
                self._wake = trio.Event()
                await self._wake.wait()
                continue
            request_id, oldest = next(iter(self._pending.items()))
            await trio.sleep_until(oldest.deadline)
            if self._pending.pop(request_id, None) is oldest:
                self.timed_out += 1
                oldest.reply.fail(ChatUnavailable("The chat's node did not answer in time"))
