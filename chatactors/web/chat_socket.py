"""WS /ws/<chat_id>: subscribe to a chat's actor and forward its events to the socket.

Reference clients get the reference's frames (one ``{"event", "data"}`` object per frame) and
whatever they send is read and ignored. Clients that offer the ``chatactors.v1`` subprotocol get
array frames (queued events coalesced) and may send commands (see docs/API.md).

``serve_chat_socket`` runs over either transport (web/socket_transport.py): Hypercorn reaches it
through the raw ASGI fast path; the Quart route below is what Quart's test client reaches.
"""

from __future__ import annotations

import contextlib
import functools

import orjson
import trio
from quart import Blueprint, current_app

from chatactors.actors.handle import ChatHandle
from chatactors.actors.subscription import EndReason, Subscription
from chatactors.domain.errors import ChatError, ChatUnavailable, Forbidden, InvalidInput
from chatactors.domain.events import MessageReceived, encode_event
from chatactors.domain.ids import UserId
from chatactors.domain.rules import check_user_id
from chatactors.settings import Settings
from chatactors.web.auth import verify_token
from chatactors.web.error_responses import (
    CLOSE_FOR_END,
    CLOSE_TRY_AGAIN_LATER,
    close_code_for,
)
from chatactors.web.socket_commands import (
    PendingAnswer,
    queue_chat_command,
    read_commands,
    send_answers,
)
from chatactors.web.socket_context import SocketContext
from chatactors.web.socket_frames import MAX_EVENTS_PER_FRAME, forward_events
from chatactors.web.socket_transport import QuartSocket, SocketDisconnected, SocketTransport

blueprint = Blueprint("socket", __name__)

SUBPROTOCOL_V1 = "chatactors.v1"
#: How long closing a socket may take before we give up on a peer that does not read.
CLOSE_TIMEOUT_S = 2.0


@blueprint.websocket("/ws/<chat_id>")
async def chat_socket(chat_id: str) -> None:
    context = SocketContext.of(current_app)
    if context is None:
        raise ChatUnavailable("The server is not serving")
    await serve_chat_socket(QuartSocket(), context, chat_id)


async def serve_chat_socket(socket: SocketTransport, context: SocketContext, chat_id: str) -> None:
    """The whole life of one socket: subscribe (or refuse with a close code), pump, unsubscribe."""
    settings = context.settings
    metrics = context.metrics
    v1 = SUBPROTOCOL_V1 in socket.subprotocols
    subprotocol = SUBPROTOCOL_V1 if v1 else None
    try:
        user_id, after_seq = _parse_query(socket, settings)
        handle = context.services.registry.chat(chat_id)
        with trio.fail_after(settings.command_timeout_s):
            subscription = await handle.subscribe(user_id, after_seq)
    except (ChatError, trio.TooSlowError) as error:
        # Accept, then close with a code the browser can see (a refused handshake shows 1006).
        code = close_code_for(error) if isinstance(error, ChatError) else CLOSE_TRY_AGAIN_LATER
        metrics.disconnects.labels("refused").inc()
        with contextlib.suppress(SocketDisconnected):
            await socket.accept(subprotocol)
            await close_socket(
                socket, code, str(error) if isinstance(error, ChatError) else "overloaded"
            )
        return
    metrics.connections.inc()
    reason: EndReason | None = None
    try:
        await socket.accept(subprotocol)
        session = _Session(socket, context, chat_id, handle, subscription, user_id, v1)
        reason = await session.run(after_seq)
        if reason is not None:
            await close_socket(socket, CLOSE_FOR_END[reason], reason.value)
    except SocketDisconnected:
        pass
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


def socket_user(socket: SocketTransport, settings: Settings) -> UserId | None:
    """``?user_id=``; with access control, the token's subject (``?token=``)."""
    args = socket.query
    user_id = args.get("user_id")
    if settings.auth_enabled:
        subject = verify_token(settings.auth_secret, args.get("token", ""), settings.limits)
        if user_id is not None and user_id != subject:
            raise Forbidden(f"You are signed in as {subject!r}, not {user_id!r}")
        return subject
    return None if user_id is None else check_user_id(user_id, settings.limits)


def _parse_query(socket: SocketTransport, settings: Settings) -> tuple[UserId | None, int | None]:
    """``user_id`` and ``after_seq``."""
    user_id = socket_user(socket, settings)
    raw_after = socket.query.get("after_seq")
    after_seq: int | None = None
    if raw_after is not None:
        try:
            after_seq = int(raw_after)
        except ValueError:
            raise InvalidInput("after_seq must be an integer") from None
        if after_seq < 0:
            raise InvalidInput("after_seq must not be negative")
    return user_id, after_seq


async def close_socket(socket: SocketTransport, code: int, reason: str) -> None:
    with trio.move_on_after(CLOSE_TIMEOUT_S):
        await socket.close(code, reason[:120])


class _Session:
    """One subscribed socket: its pump, and its reader (and answerer for v1)."""

    def __init__(
        self,
        socket: SocketTransport,
        context: SocketContext,
        chat_id: str,
        handle: ChatHandle,
        subscription: Subscription,
        user_id: UserId | None,
        v1: bool,
    ) -> None:
        self.socket = socket
        self.context = context
        self.chat_id = chat_id
        self.handle = handle
        self.subscription = subscription
        self.user_id = user_id
        self.v1 = v1

    async def run(self, after_seq: int | None) -> EndReason | None:
        """Pump events until the subscription ends; returns why (None if the peer went away)."""
        ended: EndReason | None = None
        async with trio.open_nursery() as nursery:
            # A lagging subscriber may be stuck sending to a peer that reads nothing; the
            # actor cancels this scope when it drops it.
            self.subscription.cancel_when_lagging(nursery.cancel_scope)

            async def pump() -> None:
                nonlocal ended
                ended = await self._pump(after_seq)
                nursery.cancel_scope.cancel()

            async def until_disconnected() -> None:
                try:
                    await self._read()
                except* SocketDisconnected:  # bare, or from the v1 reader's nursery
                    nursery.cancel_scope.cancel()

            nursery.start_soon(pump)
            nursery.start_soon(until_disconnected)
        if self.subscription.end_reason is EndReason.LAGGED:
            return EndReason.LAGGED
        return ended

    async def _read(self) -> None:
        if not self.v1:
            # Reference clients: what they send is read (so the peer is never stuck) and dropped.
            while True:
                await self.socket.receive()
        pending_send, pending_receive = trio.open_memory_channel[PendingAnswer](
            self.context.settings.ws_v1_max_pipelined
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(send_answers, self.socket, self.context, pending_receive)
            queue = functools.partial(queue_chat_command, self.context, self.handle, self.user_id)
            await read_commands(self.socket, self.context, queue, pending_send)

    async def _pump(self, after_seq: int | None) -> EndReason:
        send, subscription, v1 = self.socket.send, self.subscription, self.v1
        if v1:
            hello = {
                "event": "subscribed",
                "data": {
                    "chat_id": self.chat_id,
                    "user_id": subscription.user_id,
                    "latest_seq": subscription.latest_seq,
                },
            }
            await send("[" + orjson.dumps(hello).decode() + "]")
        if subscription.resync_required:
            resync = {
                "event": "resync_required",
                "data": {
                    "chat_id": self.chat_id,
                    "after_seq": after_seq,
                    "latest_seq": subscription.latest_seq,
                },
            }
            frame = orjson.dumps(resync).decode()
            await send(f"[{frame}]" if v1 else frame)
        replay = [encode_event(MessageReceived(m)) for m in subscription.replay]
        if v1:
            for start in range(0, len(replay), MAX_EVENTS_PER_FRAME):
                await send("[" + ",".join(replay[start : start + MAX_EVENTS_PER_FRAME]) + "]")
        else:
            for frame in replay:
                await send(frame)
        write_delay_s = self.context.settings.ws_v1_write_delay_s
        return await forward_events(subscription, send, v1=v1, write_delay_s=write_delay_s)
