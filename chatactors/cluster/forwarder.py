"""Forwarder: sends a command to the node that holds the chat and relays its answer.

The caller gets a ``Reply`` just as from a local inbox: the same values, the same errors (by
class and text, see ``codec``). If the node does not answer within ``timeout_s`` (it died, or
Redis lost the message), the command may or may not have taken effect: a command that changes
something fails with ``OutcomeUnknown`` (504: a send is retried with its
``client_message_id``), one that only reads with ``ChatUnavailable`` (503), and the caller
retries.

A node that no longer holds the chat answers ``ChatElsewhere`` with the holder's id, before
running the command: the forwarder sends it on there once (same reply for the caller) and
teaches the ``HolderCache``; any other "unavailable" answer, a timeout or a node nobody listens
at any more makes the cache forget that node for the chat.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, TypeVar

import attrs
import trio

from chatactors.actors.commands import Command, MarkRead, PostMessage, SetPresence
from chatactors.actors.reply import Reply
from chatactors.cluster import codec
from chatactors.cluster.directory import Holder
from chatactors.cluster.errors import ChatElsewhere, ClusterUnavailable
from chatactors.cluster.holders import HolderCache
from chatactors.cluster.redis import Channels
from chatactors.domain.errors import ChatError, ChatUnavailable, OutcomeUnknown
from chatactors.domain.ids import ChatId

log = logging.getLogger(__name__)
R = TypeVar("R")


def _unanswered(command: Command[Any]) -> ChatError:
    """What a forwarded command nobody answered in time fails with: it may have run there."""
    if isinstance(command, PostMessage):
        return OutcomeUnknown(OutcomeUnknown.send_detail(command.client_message_id))
    if isinstance(command, SetPresence | MarkRead):
        return OutcomeUnknown()
    return ChatUnavailable("The chat's node did not answer in time")


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
    node_id: str
    chat_id: ChatId
    #: Whether a ``ChatElsewhere`` answer sends the command on (once).
    reroute: bool


@attrs.frozen
class ForwarderStatistics:
    #: Commands sent to the node holding their chat, and those not answered in time.
    forwarded: int
    timed_out: int
    #: Commands sent on to the holder a node named when it no longer held their chat.
    rerouted: int
    #: Commands waiting for their answer now.
    pending: int


@attrs.define(eq=False)
class Forwarder:
    node_id: str
    _channels: Channels
    timeout_s: float
    #: Who holds which chat, as far as this node knows (corrected from the answers).
    _holders: HolderCache | None
    #: Where commands are sent on after ``ChatElsewhere``.
    _nursery: trio.Nursery
    _pending: dict[int, _Pending] = attrs.field(factory=dict)
    _ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1))
    _wake: trio.Event = attrs.field(factory=trio.Event)
    _forwarded: int = 0
    _timed_out: int = 0
    _rerouted: int = 0

    def statistics(self) -> ForwarderStatistics:
        return ForwarderStatistics(
            self._forwarded, self._timed_out, self._rerouted, len(self._pending)
        )

    async def submit_to(
        self, node_id: str, chat_id: ChatId, command: Command[R], *, reroute: bool = True
    ) -> Reply[R]:
        """Forward ``command`` to ``node_id``. Raises ``ClusterUnavailable`` if Redis is
        unreachable, or this node cannot hear the answer now (its Pub/Sub connection is down or
        subscribing again), and ``ChatUnavailable`` if that node is not listening (gone)."""
        if not self._channels.listening:
            raise ClusterUnavailable()
        request_id = next(self._ids)
        data = codec.encode_forwarded(
            codec.ForwardedCommand(request_id, self.node_id, chat_id, command)
        )
        reply: Reply[R] = Reply()
        deadline = trio.current_time() + self.timeout_s
        pending = _Pending(command, reply, deadline, node_id, chat_id, reroute)
        self._pending[request_id] = pending
        self._wake.set()
        try:
            listeners = await self._channels.publish(command_channel(node_id), data)
        except BaseException:
            del self._pending[request_id]
            raise
        if listeners == 0:
            self._pending.pop(request_id, None)
            self._forget(pending)
            raise ChatUnavailable(f"The node holding chat {chat_id!r} is gone; retry shortly")
        self._forwarded += 1
        return reply

    def _forget(self, pending: _Pending) -> None:
        if self._holders is not None:
            self._holders.forget(pending.chat_id, pending.node_id)

    def _failed(self, pending: _Pending, error: ChatError) -> None:
        if isinstance(error, ChatElsewhere):
            if self._holders is not None:
                self._holders.forget(pending.chat_id, pending.node_id)
                now = trio.current_time()
                self._holders.learn(pending.chat_id, Holder(error.node_id, error.token), now)
            if pending.reroute and error.node_id != pending.node_id:
                self._rerouted += 1
                self._nursery.start_soon(self._send_on, pending, error.node_id)
                return
        elif isinstance(error, ChatUnavailable) and not isinstance(error, ClusterUnavailable):
            # Lease lost, stopping, crashed: look the holder up again next time. (Redis being
            # unreachable from that node says nothing about who holds the chat.)
            self._forget(pending)
        pending.reply.fail(error)

    async def _send_on(self, pending: _Pending, node_id: str) -> None:
        """Forward a command that did not run to the node holding its chat; relay its answer."""
        try:
            forwarded = await self.submit_to(
                node_id, pending.chat_id, pending.command, reroute=False
            )
        except ChatError as error:
            pending.reply.fail(error)
            return
        await forwarded.answered()
        try:
            pending.reply.set(forwarded.result())
        except ChatError as error:
            pending.reply.fail(error)

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
            try:
                error = codec.decode_error(answer.payload)
            except codec.UndecodableMessage:
                log.warning("undecodable forwarded error")
                error = ChatUnavailable()
            self._failed(pending, error)
            return
        if self._holders is not None:
            self._holders.confirm(pending.chat_id, pending.node_id, trio.current_time())
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
                self._timed_out += 1
                self._forget(oldest)
                oldest.reply.fail(_unanswered(oldest.command))
