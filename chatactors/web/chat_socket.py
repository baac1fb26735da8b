"""WS /ws/<chat_id>: subscribe to a chat's actor and forward its events to the socket.

Reference clients get the reference's frames (one ``{"event", "data"}`` object per frame) and
whatever they send is read and ignored. Clients that offer the ``chatactors.v1`` subprotocol get
array frames (queued events coalesced) and may send commands (see docs/API.md).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import orjson
import trio
from quart import Blueprint, websocket

from chatactors.actors.handle import ChatHandle
from chatactors.actors.reply import Reply
from chatactors.actors.subscription import EndReason, Subscription
from chatactors.domain.errors import ChatError, Forbidden, InvalidInput, Overloaded
from chatactors.domain.events import MessageReceived, encode_event, message_to_wire
from chatactors.domain.ids import UserId
from chatactors.domain.models import Message, MessageType, Presence, PresenceStatus, ReadMark
from chatactors.domain.rules import check_user_id
from chatactors.settings import Settings
from chatactors.web import media_api
from chatactors.web.auth import verify_token
from chatactors.web.error_responses import (
    CLOSE_FOR_END,
    CLOSE_TRY_AGAIN_LATER,
    close_code_for,
    status_for,
)
from chatactors.web.lifespan import services
from chatactors.web.metrics import WebMetrics, web_metrics
from chatactors.web.rate_limit import charge_send
from chatactors.web.socket_frames import MAX_EVENTS_PER_FRAME, forward_events

log = logging.getLogger(__name__)
blueprint = Blueprint("socket", __name__)

E = TypeVar("E", MessageType, PresenceStatus)

SUBPROTOCOL_V1 = "chatactors.v1"
#: How long closing a socket may take before we give up on a peer that does not read.
CLOSE_TIMEOUT_S = 2.0


@blueprint.websocket("/ws/<chat_id>")
async def chat_socket(chat_id: str) -> None:
    settings = services().settings
    metrics = web_metrics()
    v1 = SUBPROTOCOL_V1 in websocket.requested_subprotocols
    subprotocol = SUBPROTOCOL_V1 if v1 else None
    try:
        user_id, after_seq = _parse_query(settings)
        handle = services().registry.chat(chat_id)
        with trio.fail_after(settings.command_timeout_s):
            subscription = await handle.subscribe(user_id, after_seq)
    except (ChatError, trio.TooSlowError) as error:
        # Accept, then close with a code the browser can see (a refused handshake shows 1006).
        code = close_code_for(error) if isinstance(error, ChatError) else CLOSE_TRY_AGAIN_LATER
        metrics.disconnects.labels("refused").inc()
        await websocket.accept(subprotocol=subprotocol)
        await _close(code, str(error) if isinstance(error, ChatError) else "overloaded")
        return
    metrics.connections.inc()
    reason: EndReason | None = None
    try:
        await websocket.accept(subprotocol=subprotocol)
        reason = await _serve(handle, subscription, user_id, after_seq, v1)
        if reason is not None:
            await _close(CLOSE_FOR_END[reason], reason.value)
    finally:
        metrics.connections.dec()
        metrics.disconnects.labels(reason.value if reason else "client").inc()
        # Always tell the actor, even while being cancelled by a disconnect: presence and the
        # subscriber list depend on it.
        with (
            trio.CancelScope(shield=True),
            trio.move_on_after(settings.command_timeout_s),
            contextlib.suppress(ChatError),
        ):
            await handle.unsubscribe(subscription)


def _parse_query(settings: Settings) -> tuple[UserId | None, int | None]:
    """``user_id`` and ``after_seq``; with access control, the user is the token's subject."""
    args = websocket.args
    user_id = args.get("user_id")
    if settings.auth_enabled:
        subject = verify_token(settings.auth_secret, args.get("token", ""), settings.limits)
        if user_id is not None and user_id != subject:
            raise Forbidden(f"You are signed in as {subject!r}, not {user_id!r}")
        user_id = subject
    raw_after = args.get("after_seq")
    after_seq: int | None = None
    if raw_after is not None:
        try:
            after_seq = int(raw_after)
        except ValueError:
            raise InvalidInput("after_seq must be an integer") from None
        if after_seq < 0:
            raise InvalidInput("after_seq must not be negative")
    return (None if user_id is None else check_user_id(user_id, settings.limits)), after_seq


async def _close(code: int, reason: str) -> None:
    with trio.move_on_after(CLOSE_TIMEOUT_S):
        await websocket.close(code, reason[:120])


async def _serve(
    handle: ChatHandle,
    subscription: Subscription,
    user_id: UserId | None,
    after_seq: int | None,
    v1: bool,
) -> EndReason | None:
    """Pump events until the subscription ends; returns why (None if the peer went away)."""
    ended: EndReason | None = None
    settings = services().settings
    async with trio.open_nursery() as nursery:

        async def watch_for_lag() -> None:
            # A lagged subscriber may be stuck in a send to a peer that reads nothing: stop it.
            nonlocal ended
            reason = await subscription.wait_ended()
            if reason is EndReason.LAGGED:
                ended = reason
                nursery.cancel_scope.cancel()

        async def pump() -> None:
            nonlocal ended
            ended = await _pump_events(subscription, after_seq, v1, settings.ws_v1_write_delay_s)
            nursery.cancel_scope.cancel()

        nursery.start_soon(watch_for_lag)
        nursery.start_soon(pump)
        if v1:
            # The reader queues each command at the actor without waiting for its answer; the
            # answerer sends the acks in order. A socket's commands thus overlap their round
            # trips, and acks that are ready together share a frame.
            pending_send, pending_receive = trio.open_memory_channel[_PendingAnswer](
                settings.ws_v1_max_pipelined
            )
            nursery.start_soon(_read_commands, handle, user_id, pending_send)
            nursery.start_soon(_send_answers, pending_receive)
        else:
            nursery.start_soon(_ignore_frames)
    return ended


async def _pump_events(
    subscription: Subscription, after_seq: int | None, v1: bool, write_delay_s: float
) -> EndReason:
    if v1:
        hello = {
            "event": "subscribed",
            "data": {
                "chat_id": _chat_id(),
                "user_id": subscription.user_id,
                "latest_seq": subscription.latest_seq,
            },
        }
        await websocket.send("[" + orjson.dumps(hello).decode() + "]")
    if subscription.resync_required:
        resync = {
            "event": "resync_required",
            "data": {
                "chat_id": _chat_id(),
                "after_seq": after_seq,
                "latest_seq": subscription.latest_seq,
            },
        }
        frame = orjson.dumps(resync).decode()
        await websocket.send(f"[{frame}]" if v1 else frame)
    replay = [encode_event(MessageReceived(m)) for m in subscription.replay]
    if v1:
        for start in range(0, len(replay), MAX_EVENTS_PER_FRAME):
            await websocket.send("[" + ",".join(replay[start : start + MAX_EVENTS_PER_FRAME]) + "]")
    else:
        for frame in replay:
            await websocket.send(frame)
    return await forward_events(subscription, websocket.send, v1=v1, write_delay_s=write_delay_s)


def _chat_id() -> str:
    chat_id: str = (websocket.view_args or {})["chat_id"]
    return chat_id


async def _ignore_frames() -> None:
    """Reference clients: what they send is read (so the peer is never stuck) and dropped."""
    while True:
        await websocket.receive()


@attrs.frozen
class _PendingAnswer:
    """A v1 command that was read and queued; its answer frame is still to be sent."""

    ref: Any
    #: The actor's answer to come; None when the command failed before reaching the actor.
    reply: Reply[Any] | None
    #: The ack's data from the actor's answer.
    render: Callable[[Any], dict[str, Any]]
    failure: ChatError | None
    #: Past this (trio time), the ack is a 503.
    deadline: float
    is_send: bool = False

    async def answer(self) -> str:
        """The event (encoded) that answers the command: an ``ack`` or an ``error``."""
        event: dict[str, Any]
        try:
            if self.failure is not None:
                raise self.failure
            assert self.reply is not None
            if not self.reply.ready:
                with trio.move_on_at(self.deadline):
                    await self.reply.answered()
            if not self.reply.ready:
                raise trio.TooSlowError
            value = self.reply.result()
            event = {"event": "ack", "data": {"ref": self.ref, **self.render(value)}}
        except ChatError as error:
            event = {"event": "error", "data": {"ref": self.ref, "status": status_for(error),
                                                "detail": str(error)}}  # fmt: skip
        except trio.TooSlowError:
            detail = "the chat did not answer in time"
            event = {"event": "error", "data": {"ref": self.ref, "status": 503, "detail": detail}}
        return orjson.dumps(event).decode()


async def _read_commands(
    handle: ChatHandle,
    user_id: UserId | None,
    pending: trio.MemorySendChannel[_PendingAnswer],
) -> None:
    """v1: read commands in order and queue each at the actor (waits only for inbox room)."""
    timeout_s = services().settings.command_timeout_s
    async with pending:
        while True:
            data = await websocket.receive()
            deadline = trio.current_time() + timeout_s
            ref: Any = None
            try:
                command = _parse_command(data)
                ref = command.get("ref")
                if user_id is None:
                    raise InvalidInput("commands need the socket to be opened with ?user_id=")
                with trio.fail_at(deadline):
                    queued = await _queue(handle, user_id, command, deadline)
            except ChatError as error:
                queued = _PendingAnswer(ref, None, dict, error, deadline)
            except trio.TooSlowError:
                queued = _PendingAnswer(ref, None, dict, Overloaded(), deadline)
            await pending.send(queued)


async def _send_answers(pending: trio.MemoryReceiveChannel[_PendingAnswer]) -> None:
    """v1: send the answers in the order the commands came; answers ready together share a frame."""
    metrics = web_metrics()
    carried: _PendingAnswer | None = None
    while True:
        first = carried or await pending.receive()
        carried = None
        batch = [await first.answer()]
        _observe_send(metrics, first)
        while len(batch) < MAX_EVENTS_PER_FRAME:
            try:
                following = pending.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                break
            if following.reply is not None and not following.reply.ready:
                carried = following  # not answered yet: send what is ready first
                break
            batch.append(await following.answer())
            _observe_send(metrics, following)
        await websocket.send("[" + ",".join(batch) + "]")


def _observe_send(metrics: WebMetrics, answered: _PendingAnswer) -> None:
    if answered.is_send and answered.failure is None:
        timeout_s = services().settings.command_timeout_s
        # Queued at deadline - timeout; answered now (the ack is sent right after).
        metrics.send_latency.observe(trio.current_time() - (answered.deadline - timeout_s))


def _parse_command(data: str | bytes) -> dict[str, Any]:
    try:
        command = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise InvalidInput(f"the frame is not valid JSON: {error}") from None
    if not isinstance(command, dict):
        raise InvalidInput("a command is a JSON object with an 'op'")
    return command


async def _queue(
    handle: ChatHandle, user_id: UserId, command: dict[str, Any], deadline: float
) -> _PendingAnswer:
    settings = services().settings
    ref = command.get("ref")
    op = command.get("op")
    if op == "send":
        content = command.get("content")
        client_message_id = command.get("client_message_id")
        if not isinstance(content, str):
            raise InvalidInput("'content' must be a string")
        if client_message_id is not None and not (
            isinstance(client_message_id, str)
            and 1 <= len(client_message_id) <= settings.max_id_length
        ):
            raise InvalidInput("'client_message_id' must be a short string")
        message_type = _enum(MessageType, command.get("type", "text"), "type")
        charge_send(user_id)
        await media_api.check_content_references(content)
        reply: Reply[Any] = await handle.queue_post(
            user_id, message_type, content, client_message_id
        )
        return _PendingAnswer(ref, reply, _render_message, None, deadline, is_send=True)
    if op == "presence":
        status = _enum(PresenceStatus, command.get("status"), "status")
        reply = await handle.queue_set_presence(user_id, status)
        return _PendingAnswer(ref, reply, _render_presence, None, deadline)
    if op == "read":
        reply = await handle.queue_mark_read(user_id)
        return _PendingAnswer(ref, reply, _render_read_mark, None, deadline)
    raise InvalidInput(f"unknown op {op!r}; expected 'send', 'presence' or 'read'")


def _render_message(message: Message) -> dict[str, Any]:
    return {"message": message_to_wire(message)}


def _render_presence(presence: Presence) -> dict[str, Any]:
    return {"status": presence.status.value}


def _render_read_mark(mark: ReadMark) -> dict[str, Any]:
    return {"last_read_message_id": mark.message_id, "last_read_seq": mark.seq}


def _enum(kind: type[E], value: Any, field: str) -> E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in kind)
        raise InvalidInput(f"'{field}' must be one of {allowed}") from None
