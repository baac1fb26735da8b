"""WS /ws/<chat_id>: subscribe to a chat's actor and forward its events to the socket.

Reference clients get the reference's frames (one ``{"event", "data"}`` object per frame) and
whatever they send is read and ignored. Clients that offer the ``chatactors.v1`` subprotocol get
array frames (queued events coalesced) and may send commands (see docs/API.md).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, TypeVar

import orjson
import trio
from quart import Blueprint, websocket

from chatactors.actors.handle import ChatHandle
from chatactors.actors.subscription import EndReason, Subscription
from chatactors.domain.errors import ChatError, Forbidden, InvalidInput
from chatactors.domain.events import MessageReceived, encode_event, message_to_wire
from chatactors.domain.ids import UserId
from chatactors.domain.models import MessageType, PresenceStatus
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
from chatactors.web.metrics import web_metrics
from chatactors.web.rate_limit import charge_send

log = logging.getLogger(__name__)
blueprint = Blueprint("socket", __name__)

E = TypeVar("E", MessageType, PresenceStatus)

SUBPROTOCOL_V1 = "chatactors.v1"
#: At most this many queued events share one v1 frame.
MAX_EVENTS_PER_FRAME = 256
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
            ended = await _pump_events(subscription, after_seq, v1)
            nursery.cancel_scope.cancel()

        nursery.start_soon(watch_for_lag)
        nursery.start_soon(_read_frames, handle, user_id, v1)
        nursery.start_soon(pump)
    return ended


async def _pump_events(subscription: Subscription, after_seq: int | None, v1: bool) -> EndReason:
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
    while True:
        try:
            frame = await subscription.receive()
        except trio.EndOfChannel:
            assert subscription.end_reason is not None
            return subscription.end_reason
        if not v1:
            await websocket.send(frame)
            continue
        batch = [frame]
        while len(batch) < MAX_EVENTS_PER_FRAME:
            try:
                batch.append(subscription.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel):
                break
        await websocket.send("[" + ",".join(batch) + "]")


def _chat_id() -> str:
    chat_id: str = (websocket.view_args or {})["chat_id"]
    return chat_id


async def _read_frames(handle: ChatHandle, user_id: UserId | None, v1: bool) -> None:
    """Read what the client sends. Reference clients: ignored. v1 clients: commands."""
    while True:
        data = await websocket.receive()
        if not v1:
            continue
        answer = await _run_command(handle, user_id, data)
        await websocket.send("[" + orjson.dumps(answer).decode() + "]")


async def _run_command(handle: ChatHandle, user_id: UserId | None, data: str | bytes) -> Any:
    ref: Any = None
    try:
        try:
            command = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            raise InvalidInput(f"the frame is not valid JSON: {error}") from None
        if not isinstance(command, dict):
            raise InvalidInput("a command is a JSON object with an 'op'")
        ref = command.get("ref")
        if user_id is None:
            raise InvalidInput("commands need the socket to be opened with ?user_id=")
        result = await _dispatch(handle, user_id, command)
        return {"event": "ack", "data": {"ref": ref, **result}}
    except ChatError as error:
        return {"event": "error", "data": {"ref": ref, "status": status_for(error),
                                           "detail": str(error)}}  # fmt: skip
    except trio.TooSlowError:
        detail = "the chat did not answer in time"
        return {"event": "error", "data": {"ref": ref, "status": 503, "detail": detail}}


async def _dispatch(handle: ChatHandle, user_id: UserId, command: dict[str, Any]) -> dict[str, Any]:
    settings = services().settings
    op = command.get("op")
    with trio.fail_after(settings.command_timeout_s):
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
            started = trio.current_time()
            message = await handle.post(user_id, message_type, content, client_message_id)
            web_metrics().send_latency.observe(trio.current_time() - started)
            return {"message": message_to_wire(message)}
        if op == "presence":
            status = _enum(PresenceStatus, command.get("status"), "status")
            presence = await handle.set_presence(user_id, status)
            return {"status": presence.status.value}
        if op == "read":
            mark = await handle.mark_read(user_id)
            return {"last_read_message_id": mark.message_id, "last_read_seq": mark.seq}
    raise InvalidInput(f"unknown op {op!r}; expected 'send', 'presence' or 'read'")


def _enum(kind: type[E], value: Any, field: str) -> E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in kind)
        raise InvalidInput(f"'{field}' must be one of {allowed}") from None
