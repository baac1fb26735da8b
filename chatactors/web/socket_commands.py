"""chatactors.v1 commands over a socket: read ahead, queued at the actor in order, acked in order.

The reader queues each command at the chat's actor without waiting for its answer (so a socket's
commands overlap their round trips); the answerer sends the acks in the order the commands came,
several in one frame when they are ready together.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import attrs
import orjson
import trio

from chatactors.actors.handle import ChatHandle
from chatactors.actors.reply import Reply
from chatactors.domain.errors import ChatError, InvalidInput, OutcomeUnknown, Overloaded
from chatactors.domain.ids import MessageId, UserId
from chatactors.domain.models import Message, MessageType, Presence, PresenceStatus, ReadMark
from chatactors.web import media_references
from chatactors.web.answers import answer_by
from chatactors.web.error_responses import status_for
from chatactors.web.services import Services
from chatactors.web.socket_frames import MAX_EVENTS_PER_FRAME
from chatactors.web.socket_transport import SocketTransport
from chatactors.web.wire_out import message_to_wire

E = TypeVar("E", MessageType, PresenceStatus)
#: The ops that change a message, each answered with the message's new state.
CHANGE_OPS = ("edit", "delete", "react", "unreact")
CHAT_OPS = ("send", *CHANGE_OPS, "presence", "read")


@attrs.frozen
class PendingAnswer:
    """A command that was read and queued; its answer is still to be sent."""

    ref: Any
    #: The actor's answer to come; None when the command failed before reaching the actor.
    reply: Reply[Any] | None
    #: The ack's data from the actor's answer.
    render: Callable[[Any], dict[str, Any]]
    failure: ChatError | None
    queued_at: float
    #: Past this (trio time), the answer is a 503 (withdrawn: it never runs) or ``unknown``.
    deadline: float
    is_send: bool = False
    #: Named in the answer on a user's socket (whose commands name their chat).
    chat_id: str | None = None
    #: For a command that changes something: the detail of the 504 (outcome unknown) if it
    #: began but had not finished by the deadline.
    unknown: str | None = None

    @property
    def ready(self) -> bool:
        return self.reply is None or self.reply.ready

    async def answer(self) -> str:
        """The event (encoded) that answers the command: an ``ack`` or an ``error``."""
        event: dict[str, Any]
        try:
            if self.failure is not None:
                raise self.failure
            assert self.reply is not None
            value = await answer_by(self.reply, self.deadline, unknown=self.unknown)
            event = {"event": "ack", "data": {"ref": self.ref, **self.render(value)}}
        except ChatError as error:
            event = {"event": "error", "data": {"ref": self.ref, "status": status_for(error),
                                                "detail": str(error)}}  # fmt: skip
        except trio.TooSlowError:
            detail = "the chat did not answer in time"
            event = {"event": "error", "data": {"ref": self.ref, "status": 503, "detail": detail}}
        if self.chat_id is not None:
            event["chat_id"] = self.chat_id
        return orjson.dumps(event).decode()


#: Queues one parsed command: ``queue(command, queued_at, deadline)``.
QueueCommand = Callable[[dict[str, Any], float, float], Awaitable[PendingAnswer]]


async def read_commands(
    socket: SocketTransport,
    context: Services,
    queue: QueueCommand,
    pending: trio.MemorySendChannel[PendingAnswer],
    first: str | bytes | None = None,
) -> None:
    """Read commands in order and queue each (waits only for the actor's inbox room).

    ``first`` is a command the caller read already."""
    timeout_s = context.settings.command_timeout_s
    async with pending:
        while True:
            data = await socket.receive() if first is None else first
            first = None
            queued_at = trio.current_time()
            deadline = queued_at + timeout_s
            ref: Any = None
            try:
                command = _parse(data)
                ref = command.get("ref")
                with trio.fail_at(deadline):
                    queued = await queue(command, queued_at, deadline)
            except ChatError as error:
                queued = PendingAnswer(ref, None, dict, error, queued_at, deadline)
            except trio.TooSlowError:
                queued = PendingAnswer(ref, None, dict, Overloaded(), queued_at, deadline)
            await pending.send(queued)


def answered(ref: Any, value: dict[str, Any], queued_at: float) -> PendingAnswer:
    """A command the socket answered itself (no actor involved): an ``ack`` with ``value``."""
    reply: Reply[dict[str, Any]] = Reply()
    reply.set(value)
    return PendingAnswer(ref, reply, dict, None, queued_at, queued_at)


async def send_answers(
    socket: SocketTransport,
    context: Services,
    pending: trio.MemoryReceiveChannel[PendingAnswer],
) -> None:
    """Send the answers in the order the commands came; answers ready together share a frame."""
    carried: PendingAnswer | None = None
    while True:
        try:
            first = carried or await pending.receive()
        except trio.EndOfChannel:
            return  # the reader has stopped: the peer went away
        carried = None
        batch = [await first.answer()]
        _observe(context, first)
        while len(batch) < MAX_EVENTS_PER_FRAME:
            try:
                following = pending.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                break
            if not following.ready:
                carried = following  # not answered yet: send what is ready first
                break
            batch.append(await following.answer())
            _observe(context, following)
        await socket.send("[" + ",".join(batch) + "]")


def _observe(context: Services, answered: PendingAnswer) -> None:
    if answered.is_send and answered.failure is None:
        context.metrics.send_latency.observe(trio.current_time() - answered.queued_at)


def _parse(data: str | bytes) -> dict[str, Any]:
    try:
        command = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise InvalidInput(f"the frame is not valid JSON: {error}") from None
    if not isinstance(command, dict):
        raise InvalidInput("a command is a JSON object with an 'op'")
    return command


async def queue_chat_command(
    context: Services,
    handle: ChatHandle,
    user_id: UserId | None,
    command: dict[str, Any],
    queued_at: float,
    deadline: float,
) -> PendingAnswer:
    """Queue a send, a change to a message, presence or read at the chat's actor. Raises
    ``ChatError``."""
    if user_id is None:
        raise InvalidInput("commands need the socket to be opened with ?user_id=")
    ref = command.get("ref")
    op = command.get("op")
    if op == "send":
        content = _text(command, "content")
        client_message_id = command.get("client_message_id")
        if client_message_id is not None and not (
            isinstance(client_message_id, str)
            and 1 <= len(client_message_id) <= context.settings.max_id_length
        ):
            raise InvalidInput("'client_message_id' must be a short string")
        reply_to = command.get("reply_to")
        if reply_to is not None:
            reply_to = _message_id(command, "reply_to")
        message_type = _enum(MessageType, command.get("type", "text"), "type")
        await context.charge_send(user_id)
        await media_references.check_content_references(content, context.media)
        reply: Reply[Any] = await handle.queue_post(
            user_id, message_type, content, client_message_id, reply_to
        )
        unknown = OutcomeUnknown.send_detail(client_message_id)
        return PendingAnswer(ref, reply, _message, None, queued_at, deadline, is_send=True,
                             unknown=unknown)  # fmt: skip
    if op in CHANGE_OPS:
        message_id = _message_id(command, "message_id")
        if op == "edit":
            content = _text(command, "content")
            await context.charge_send(user_id)
            await media_references.check_content_references(content, context.media)
            reply = await handle.queue_edit(user_id, message_id, content)
        elif op == "delete":
            await context.charge_send(user_id)
            reply = await handle.queue_delete(user_id, message_id)
        else:
            emoji = _text(command, "emoji")
            await context.charge_send(user_id)
            reply = await handle.queue_react(user_id, message_id, emoji, add=op == "react")
        # Each is safe to repeat (an edit to the same text, a delete, a reaction: set
        # semantics), so "outcome unknown" only asks for a retry.
        return PendingAnswer(ref, reply, _message, None, queued_at, deadline,
                             unknown=OutcomeUnknown.DEFAULT)  # fmt: skip
    if op == "presence":
        status = _enum(PresenceStatus, command.get("status"), "status")
        reply = await handle.queue_set_presence(user_id, status)
        return PendingAnswer(ref, reply, _presence, None, queued_at, deadline,
                             unknown=OutcomeUnknown.DEFAULT)  # fmt: skip
    if op == "read":
        reply = await handle.queue_mark_read(user_id)
        return PendingAnswer(ref, reply, _read_mark, None, queued_at, deadline,
                             unknown=OutcomeUnknown.DEFAULT)  # fmt: skip
    raise InvalidInput(f"unknown op {op!r}; expected one of {', '.join(CHAT_OPS)}")


def _text(command: dict[str, Any], field: str) -> str:
    value = command.get(field)
    if not isinstance(value, str):
        raise InvalidInput(f"{field!r} must be a string")
    return value


def _message_id(command: dict[str, Any], field: str) -> MessageId:
    value = command.get(field)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{field!r} must be a message id (a non-empty string)")
    return MessageId(value)


def _message(message: Message) -> dict[str, Any]:
    return {"message": message_to_wire(message)}


def _presence(presence: Presence) -> dict[str, Any]:
    return {"status": presence.status.value}


def _read_mark(mark: ReadMark) -> dict[str, Any]:
    return {"last_read_message_id": mark.message_id, "last_read_seq": mark.seq}


def _enum(kind: type[E], value: Any, field: str) -> E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in kind)
        raise InvalidInput(f"'{field}' must be one of {allowed}") from None
