"""WS /ws/<chat_id>: subscribe to a chat's actor and forward its events to the socket.

Reference clients get the reference's frames (one ``{"event", "data"}`` object per frame, only
the reference's three events) and whatever they send is read and ignored. Clients that offer the
``chatactors.v1`` subprotocol get array frames (queued events coalesced, log entries with their
``pos``, ``message_updated`` too), may resume by log position (``after_pos``) and may send
commands (see docs/API.md).

Hypercorn reaches ``serve_chat_socket`` through web/asgi.py, over raw ASGI events
(web/socket_transport.py); there is no Quart route for sockets.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable

import orjson
import trio

from chatactors.actors.handle import ChatHandle
from chatactors.actors.subscription import EndReason, Subscription
from chatactors.domain.errors import ChatError, Forbidden, InvalidInput
from chatactors.domain.ids import UserId
from chatactors.domain.rules import check_user_id
from chatactors.settings import Settings
from chatactors.web.auth import verify_token
from chatactors.web.error_responses import (
    CLOSE_FOR_END,
    CLOSE_GOING_AWAY,
    CLOSE_TRY_AGAIN_LATER,
    close_code_for,
)
from chatactors.web.keepalive import Keepalive
from chatactors.web.services import Services
from chatactors.web.socket_commands import (
    PendingAnswer,
    queue_chat_command,
    read_commands,
    send_answers,
)
from chatactors.web.socket_frames import MAX_EVENTS_PER_FRAME, forward_events
from chatactors.web.socket_transport import SocketDisconnected, SocketTransport
from chatactors.web.subscribing import subscribe_retrying
from chatactors.web.wire_out import event_frame, for_reference_clients, v1_event

SUBPROTOCOL_V1 = "chatactors.v1"


async def refuse_chat_socket(socket: SocketTransport) -> None:
    """A socket that comes while the app is not serving (starting up or shutting down)."""
    with contextlib.suppress(SocketDisconnected):
        await socket.accept(None)
        # Nothing was sent before: the handshake and the close fit in any peer's window.
        await socket.close(CLOSE_GOING_AWAY, "the server is not serving")


async def serve_chat_socket(socket: SocketTransport, context: Services, chat_id: str) -> None:
    """The whole life of one socket: subscribe (or refuse with a close code), pump, unsubscribe."""
    settings = context.settings
    metrics = context.metrics
    v1 = SUBPROTOCOL_V1 in socket.subprotocols
    subprotocol = SUBPROTOCOL_V1 if v1 else None
    try:
        user_id, after_seq, after_pos = _parse_query(socket, settings, v1=v1)
        handle = context.registry.chat(chat_id)
        # Retried while the chat is unavailable for a moment (its node died and its lease runs).
        subscription = await subscribe_retrying(
            handle,
            user_id,
            after_seq,
            after_pos=after_pos,
            timeout_s=settings.command_timeout_s,
            stopping=lambda: context.registry.closing,
        )
    except (ChatError, trio.TooSlowError) as error:
        # Accept, then close with a code the browser can see (a refused handshake shows 1006).
        code = close_code_for(error) if isinstance(error, ChatError) else CLOSE_TRY_AGAIN_LATER
        metrics.disconnects.labels("refused").inc()
        with contextlib.suppress(SocketDisconnected):
            await socket.accept(subprotocol)
            detail = str(error) if isinstance(error, ChatError) else "overloaded"
            await close_socket(socket, code, detail, settings.ws_close_timeout_s)
        return
    metrics.connections.inc()
    reason: EndReason | None = None
    try:
        await socket.accept(subprotocol)
        session = _Session(socket, context, chat_id, handle, subscription, user_id, v1)
        reason = await session.run(after_seq, after_pos)
        if reason is not None:
            await close_socket(
                socket, CLOSE_FOR_END[reason], reason.value, settings.ws_close_timeout_s
            )
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


def _parse_query(
    socket: SocketTransport, settings: Settings, *, v1: bool
) -> tuple[UserId | None, int | None, int | None]:
    """``user_id``, ``after_seq`` and ``after_pos`` (the last one for v1 clients only: a
    reference socket could not be sent the changes it replays)."""
    user_id = socket_user(socket, settings)
    after_seq = _position(socket, "after_seq")
    after_pos = _position(socket, "after_pos")
    if after_pos is not None and not v1:
        raise InvalidInput("after_pos needs the chatactors.v1 subprotocol")
    if after_pos is not None and after_seq is not None:
        raise InvalidInput("give after_seq or after_pos, not both")
    return user_id, after_seq, after_pos


def _position(socket: SocketTransport, name: str) -> int | None:
    raw = socket.query.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer") from None
    if value < 0:
        raise InvalidInput(f"{name} must not be negative")
    return value


async def close_socket(socket: SocketTransport, code: int, reason: str, timeout_s: float) -> None:
    """Send the close; the connection is reset if that takes longer than ``timeout_s`` (a peer
    that does not read)."""
    socket.bound_writes(timeout_s)
    with trio.move_on_after(timeout_s) as waited:
        await socket.close(code, reason[:120])
    if waited.cancelled_caught:
        socket.abort()


class _Session:
    """One subscribed socket: its pump (in the socket's own task); for v1 (or a transport that
    cannot drop frames) its reader, a second task; for v1, once a command has come, its
    answerer (a third)."""

    def __init__(
        self,
        socket: SocketTransport,
        context: Services,
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
        #: The current stretch of reading; once the subscription ends, no more is read.
        self._reading = trio.CancelScope()
        self._reading_stopped = False

    async def run(self, after_seq: int | None, after_pos: int | None) -> EndReason | None:
        """Pump events until the subscription ends; returns why (None if the peer went away).

        A lagging peer is cut off at once (the actor cancels the session). Otherwise, once the
        subscription ends, reading stops and the answers to commands already read (a send's
        504, the 503s of those queued behind it) still go out before the socket is closed,
        each write bounded by the close timeout.
        """
        ended: EndReason | None = None
        close_timeout_s = self.context.settings.ws_close_timeout_s
        session = trio.CancelScope()

        def on_end(reason: EndReason) -> None:
            # In the actor's task. From now on the socket only drains and closes: a write the
            # peer does not read (even one under way) may take a close timeout at most.
            self.socket.bound_writes(close_timeout_s)
            if reason is EndReason.LAGGED:
                session.cancel()

        self.subscription.call_when_ended(on_end)
        # A reference client's frames mean nothing: unless the transport cannot drop them
        # itself, no task waits to read them, and the socket is this one task (each idle
        # socket's largest saving, BENCHMARKS.md).
        reads = self.v1 or not await self.socket.stop_reading(session.cancel)
        with session:
            await self._send_opening(after_seq, after_pos)
            if not reads:
                ended = await self._forward()
            else:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._read_until_disconnected, session)
                    ended = await self._forward()
                    self._stop_reading()
        if self.subscription.end_reason is EndReason.LAGGED:
            return EndReason.LAGGED
        return ended

    async def _read_until_disconnected(self, session: trio.CancelScope) -> None:
        try:
            await self._read()
        except* SocketDisconnected:  # bare, or from the v1 reader's nursery
            session.cancel()

    async def _read(self) -> None:
        if not self.v1:
            # Reference clients: what they send is read (so the peer is never stuck), dropped.
            with self._reading_scope():
                while True:
                    await self.socket.receive()
            return
        with self._reading_scope():
            # An idle socket waits here, without an answerer task until a command comes.
            first = await self.socket.receive()
        if self._reading_stopped:
            return
        pending_send, pending_receive = trio.open_memory_channel[PendingAnswer](
            self.context.settings.ws_v1_max_pipelined
        )
        async with trio.open_nursery() as nursery:
            # Returns once the reader has stopped (closing the channel) and every answer is sent.
            nursery.start_soon(send_answers, self.socket, self.context, pending_receive)
            queue = functools.partial(queue_chat_command, self.context, self.handle, self.user_id)
            with self._reading_scope():
                await read_commands(self.socket, self.context, queue, pending_send, first)

    def _reading_scope(self) -> trio.CancelScope:
        """A scope for one stretch of reading, cancelled by ``_stop_reading``."""
        self._reading = trio.CancelScope()
        if self._reading_stopped:
            self._reading.cancel()
        return self._reading

    def _stop_reading(self) -> None:
        self._reading_stopped = True
        self._reading.cancel()

    async def _send_opening(self, after_seq: int | None, after_pos: int | None) -> None:
        """What goes out before the live events: v1's ``subscribed``, a resync notice, the
        replay."""
        send, subscription, v1 = self.socket.send, self.subscription, self.v1
        if v1:
            hello = {
                "event": "subscribed",
                "data": {
                    "chat_id": self.chat_id,
                    "user_id": subscription.user_id,
                    "latest_seq": subscription.latest_seq,
                    "latest_pos": subscription.latest_pos,
                },
            }
            await send("[" + orjson.dumps(hello).decode() + "]")
        if subscription.resync_required:
            data = {"chat_id": self.chat_id, "after_seq": after_seq,
                    "latest_seq": subscription.latest_seq}  # fmt: skip
            if v1:
                data |= {"after_pos": after_pos, "latest_pos": subscription.latest_pos}
            frame = orjson.dumps({"event": "resync_required", "data": data}).decode()
            await send(f"[{frame}]" if v1 else frame)
        if v1:
            replay = [v1_event(e) for e in subscription.replay]
        else:
            replay = [event_frame(e) for e in subscription.replay if for_reference_clients(e)]
        if v1:
            for start in range(0, len(replay), MAX_EVENTS_PER_FRAME):
                await send("[" + ",".join(replay[start : start + MAX_EVENTS_PER_FRAME]) + "]")
        else:
            for frame in replay:
                await send(frame)

    def _forward(self) -> Awaitable[EndReason]:
        """The live events until the subscription ends (``forward_events``, awaited by the
        caller: no frame of this method's stays alive meanwhile)."""
        settings = self.context.settings
        return forward_events(
            self.subscription,
            self.socket.send,
            Keepalive(self.socket.ping, settings.ws_ping_interval_s),
            v1=self.v1,
            write_delay_s=settings.ws_v1_write_delay_s,
        )
