"""One user socket's session: a subscription per chat, all on one bounded outbox, one pump.

Each of the user's chats is subscribed through the chat's own fan-out (``ChatHandle.subscribe``,
as a per-chat socket does, so a chat owned by another node could feed it the same way), but the
frames of every chat go into one outbox owned by the session, tagged with their chat: a
subscription costs a few small objects, not a channel or a task. Chats created for the user
while the socket is open arrive on the same outbox (actors/user_feeds.py), so the pump announces
a new chat before any of its events; so do the chats the user is added to. A chat the user is
removed from (or leaves) ends its subscription with ``REMOVED`` after the entry that removed
them: the pump then drops the chat and says ``chat_removed``, and the socket carries on with
the others. A full outbox drops the whole socket (4008).
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Sequence
from typing import Any

import attrs
import orjson
import trio

from chatactors.actors.subscription import ChatEnvelope, EndReason, SharedOutbox, Subscription
from chatactors.actors.user_feeds import ChatAdded
from chatactors.domain.clock import format_timestamp
from chatactors.domain.errors import (
    ChatError,
    InvalidInput,
    NotAParticipant,
    ServerShuttingDown,
)
from chatactors.domain.events import LogEvent, MessageReceived, MessageUpdated
from chatactors.domain.ids import ChatId, UserId
from chatactors.storage.store import MessagePage
from chatactors.web.keepalive import Keepalive
from chatactors.web.services import Services
from chatactors.web.socket_commands import (
    CHAT_OPS,
    PendingAnswer,
    answered,
    queue_chat_command,
    read_commands,
    send_answers,
)
from chatactors.web.socket_frames import MAX_EVENTS_PER_FRAME
from chatactors.web.socket_transport import SocketDisconnected, SocketTransport
from chatactors.web.subscribing import subscribe_retrying
from chatactors.web.wire_out import (
    chat_to_wire,
    envelope_frame,
    envelope_v1_event,
    event_frame,
    for_reference_clients,
    message_to_wire,
    v1_event,
)

# A socket carries at most ``ws_user_max_chats`` chats: the user's most recently active ones when
# it opens, then the chats created for the user while it is open. Each costs a subscription
# (about 0.5-0.75 KB, BENCHMARKS.md) and keeps the chat's actor, with its window of recent
# messages, in memory.
#: How many of its chats a socket subscribes to at once when it opens.
SUBSCRIBING_AT_ONCE = 16
_OPS = (*CHAT_OPS, "resume")


@attrs.frozen
class _ChatRemoved:
    """On the outbox after a chat's last event for this user: they are no longer a member."""

    chat_id: ChatId


@attrs.define(eq=False)
class _ChatStream:
    subscription: Subscription
    #: ``{"chat_id":"...",``: this chat's frames open with it on this socket.
    prefix: str
    #: A message of this chat went out on this socket: a resume by seq can no longer replay
    #: before it.
    sent_message: bool = False
    #: A log entry (a message or a change) went out: neither can a resume by position.
    sent_entry: bool = False


class UserSession:
    def __init__(
        self, socket: SocketTransport, context: Services, user_id: UserId, *, v1: bool = True
    ) -> None:
        self.socket = socket
        self.context = context
        self.user_id = user_id
        #: Offered ``chatactors.v1``: gets ``message_updated`` (without it, only the
        #: reference's events, as on ``/ws/{chat_id}``).
        self.v1 = v1
        self.registry = context.registry
        self.max_chats = context.settings.ws_user_max_chats
        self.outbox_send, self._outbox = trio.open_memory_channel[
            ChatEnvelope | ChatAdded | _ChatRemoved
        ](context.settings.subscriber_queue_size)
        #: One bound method shared by every chat's SharedOutbox (not one per chat).
        self._offer = self.outbox_send.send_nowait
        self._streams: dict[ChatId, _ChatStream] = {}
        self._end_reason: EndReason | None = None
        self._scope = trio.CancelScope()
        #: Held while frames go out, so a resume's replay is never interleaved with live frames.
        self._sending = trio.Lock()

    def _chat_ended(self, chat_id: ChatId, reason: EndReason) -> None:
        """One chat dropped this socket (in the actor's or the bus's task, never waits): the
        user was removed from it, so the socket drops the chat; any other reason ends it."""
        if reason is not EndReason.REMOVED:
            self.ended(reason)
            return
        try:
            self.outbox_send.send_nowait(_ChatRemoved(chat_id))
        except trio.WouldBlock:
            self.ended(EndReason.LAGGED)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the socket is closing anyway

    def ended(self, reason: EndReason) -> None:
        """A chat (or the feed) dropped this socket; called in the actor's task, never waits."""
        if reason is EndReason.UNSUBSCRIBED:
            return  # this session's own doing
        if self._end_reason is None:
            self._end_reason = reason
        self._scope.cancel()

    async def run(self) -> EndReason | None:
        """Subscribe, then pump and read until the peer leaves (None) or a chat drops us."""
        with self._scope:
            await self._open()
            # The pump runs in this task (the socket's own), the reader beside it.
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._read_until_disconnected, nursery.cancel_scope)
                await self._pump()
        return self._end_reason

    async def _read_until_disconnected(self, session: trio.CancelScope) -> None:
        try:
            await self._read()
        except* SocketDisconnected:  # bare, or from the reader's nursery
            pass
        session.cancel()

    async def close(self) -> None:
        """Leave every chat (so the user goes offline), even while being cancelled."""
        self._outbox.close()  # a chat that sends before its unsubscribe arrives drops us
        timeout_s = self.context.settings.command_timeout_s
        with trio.CancelScope(shield=True), trio.move_on_after(timeout_s):
            async with trio.open_nursery() as nursery:
                for chat_id, stream in self._streams.items():
                    nursery.start_soon(self._unsubscribe, chat_id, stream.subscription)

    # -- subscriptions ----------------------------------------------------------------------

    async def _open(self) -> None:
        with trio.fail_after(self.context.settings.command_timeout_s):
            summaries = await self.registry.list_user_chats(self.user_id)
        await self._subscribe_all([summary.chat.id for summary in summaries[: self.max_chats]])
        ready = {
            "event": "ready",
            "chat_id": None,
            "data": {
                "user_id": self.user_id,
                "chats": {
                    chat_id: stream.subscription.latest_seq
                    for chat_id, stream in self._streams.items()
                },
                "latest_pos": {
                    chat_id: stream.subscription.latest_pos
                    for chat_id, stream in self._streams.items()
                },
                "unread_mentions": {
                    summary.chat.id: summary.unread_mentions
                    for summary in summaries
                    if summary.chat.id in self._streams
                },
                "max_chats": self.max_chats,
            },
        }
        await self._send([orjson.dumps(ready).decode()])

    async def _subscribe_all(self, chat_ids: list[ChatId]) -> None:
        """Subscribe to a few chats at a time (each may load its chat from the store first)."""
        failures: list[ChatError | trio.TooSlowError] = []
        limiter = trio.CapacityLimiter(SUBSCRIBING_AT_ONCE)

        async def subscribe(chat_id: ChatId) -> None:
            async with limiter:
                try:
                    await self._subscribe(chat_id, None)
                except NotAParticipant:
                    pass  # removed since it was listed: not the user's chat any more
                except (ChatError, trio.TooSlowError) as error:
                    failures.append(error)
                    nursery.cancel_scope.cancel()

        async with trio.open_nursery() as nursery:
            for chat_id in chat_ids:
                nursery.start_soon(subscribe, chat_id)
        if failures:
            raise failures[0]

    async def _subscribe(self, chat_id: ChatId, after_pos: int | None) -> _ChatStream:
        """Subscribe to one chat, retrying while it is unavailable, within the command timeout
        (web/subscribing.py): retrying one chat beats refusing the whole socket, which carries
        all the user's chats, and having the client reconnect until it opens."""
        outbox = SharedOutbox(chat_id, self._offer)
        subscription = await subscribe_retrying(
            self.registry.chat(chat_id),
            self.user_id,
            None,
            outbox,
            after_pos=after_pos,
            timeout_s=self.context.settings.command_timeout_s,
            stopping=lambda: self.registry.closing,
        )
        stream = _ChatStream(subscription, '{"chat_id":' + orjson.dumps(chat_id).decode() + ",")
        self._streams[chat_id] = stream
        subscription.call_when_ended(functools.partial(self._chat_ended, chat_id))
        return stream

    async def _unsubscribe(self, chat_id: ChatId, subscription: Subscription) -> None:
        with contextlib.suppress(ChatError):
            await self.registry.chat(chat_id).unsubscribe(subscription)

    async def _added(self, added: ChatAdded) -> list[str]:
        """A chat created for the user: announce it, then replay what it already holds. A chat
        the user was added to: announce it, and carry its events from now on (its history,
        from the start, is read over REST)."""
        chat, message = added.chat, added.message
        if chat.id in self._streams:
            return []  # created (or added) while the socket opened: carried, listed in ready
        data = {
            **chat_to_wire(chat),
            "last_message": None if message is None else message_to_wire(message),
            # An added member has read up to the message that added them.
            "unread_count": 0,
            "last_activity": format_timestamp(
                chat.created_at if message is None else message.timestamp
            ),
            "unread_mentions": 0,
        }
        announced = {"event": "chat_created", "chat_id": chat.id, "data": data}
        if len(self._streams) >= self.max_chats:
            # Announced but not carried (ws_user_max_chats).
            return [orjson.dumps(announced).decode()]
        try:
            # A new chat's whole log: messages, and changes to them made before this
            # subscription. An older chat's, from its pages: what comes after is live.
            stream = await self._subscribe(chat.id, 0 if message is None else None)
        except NotAParticipant:
            return []  # removed again before this socket heard of it: nothing to announce
        except (ChatError, trio.TooSlowError) as error:
            # The client reconnects (later, or to another server) and resumes.
            stopping = isinstance(error, ServerShuttingDown)
            self.ended(EndReason.SHUTDOWN if stopping else EndReason.UNAVAILABLE)
            return []
        subscription = stream.subscription
        data |= {"latest_seq": subscription.latest_seq, "latest_pos": subscription.latest_pos}
        replay = subscription.replay
        stream.sent_message = stream.sent_entry = bool(replay)
        return [orjson.dumps(announced).decode(), *self._entries(stream, replay)]

    async def _removed(self, chat_id: ChatId) -> list[str]:
        """The user is no longer in the chat: stop carrying it, and say so."""
        stream = self._streams.pop(chat_id, None)
        if stream is None:
            return []
        # Its subscription has ended; this tidies up what holds it (in cluster mode, the
        # node's listening to the chat), bounded like any command.
        with trio.move_on_after(self.context.settings.command_timeout_s):
            await self._unsubscribe(chat_id, stream.subscription)
        removed = {"event": "chat_removed", "chat_id": chat_id, "data": {"chat_id": chat_id}}
        return [orjson.dumps(removed).decode()]

    def _entries(self, stream: _ChatStream, entries: Sequence[LogEvent]) -> list[str]:
        """The chat's log entries as this socket sends them."""
        if self.v1:
            return [stream.prefix + v1_event(entry)[1:] for entry in entries]
        return [stream.prefix + event_frame(entry)[1:]
                for entry in entries if for_reference_clients(entry)]  # fmt: skip

    # -- sending ----------------------------------------------------------------------------

    async def _pump(self) -> None:
        outbox = self._outbox
        write_delay_s = self.context.settings.ws_v1_write_delay_s
        keepalive = Keepalive(self.socket.ping, self.context.settings.ws_ping_interval_s)
        last_sent = -math.inf
        while True:
            batch = [await keepalive.wait(outbox.receive)]
            if last_sent + write_delay_s > trio.current_time():
                await trio.sleep_until(last_sent + write_delay_s)  # as on /ws/{chat_id}
            else:
                # Let the other ready tasks run first: what they publish joins this frame.
                await trio.lowlevel.checkpoint()
            while len(batch) < MAX_EVENTS_PER_FRAME:
                try:
                    batch.append(outbox.receive_nowait())
                except trio.WouldBlock:
                    break
            async with self._sending:
                events: list[str] = []
                for item in batch:
                    if isinstance(item, ChatAdded):
                        events.extend(await self._added(item))
                        continue
                    if isinstance(item, _ChatRemoved):
                        events.extend(await self._removed(item.chat_id))
                        continue
                    stream = self._streams[item.chat_id]
                    event = item.envelope.event
                    if not self.v1 and not for_reference_clients(event):
                        continue
                    if isinstance(event, MessageReceived):
                        stream.sent_message = stream.sent_entry = True
                    elif isinstance(event, MessageUpdated):
                        stream.sent_entry = True
                    # The chat's frame, encoded once for every socket, with the chat named.
                    if self.v1:
                        events.append(stream.prefix + envelope_v1_event(item.envelope)[1:])
                    else:
                        events.append(stream.prefix + envelope_frame(item.envelope)[1:])
                await self._send(events)
            last_sent = trio.current_time()

    async def _send(self, events: list[str]) -> None:
        for start in range(0, len(events), MAX_EVENTS_PER_FRAME):
            await self.socket.send(
                "[" + ",".join(events[start : start + MAX_EVENTS_PER_FRAME]) + "]"
            )

    # -- commands ---------------------------------------------------------------------------

    async def _read(self) -> None:
        # An idle socket waits here, without an answerer task until a command comes.
        first = await self.socket.receive()
        pending_send, pending_receive = trio.open_memory_channel[PendingAnswer](
            self.context.settings.ws_v1_max_pipelined
        )
        async with trio.open_nursery() as nursery:
            nursery.start_soon(send_answers, self.socket, self.context, pending_receive)
            await read_commands(self.socket, self.context, self._queue, pending_send, first)

    async def _queue(
        self, command: dict[str, Any], queued_at: float, deadline: float
    ) -> PendingAnswer:
        op = command.get("op")
        if op not in _OPS:
            raise InvalidInput(f"unknown op {op!r}; expected one of {', '.join(_OPS)}")
        if op == "resume":
            return await self._resume(command, queued_at)
        chat_id = command.get("chat_id")
        if not isinstance(chat_id, str) or not chat_id:
            raise InvalidInput("a command names its chat: 'chat_id' must be a string")
        try:
            handle = self.registry.chat(chat_id)
            queued = await queue_chat_command(
                self.context, handle, self.user_id, command, queued_at, deadline
            )
        except ChatError as error:
            queued = PendingAnswer(command.get("ref"), None, dict, error, queued_at, deadline)
        return attrs.evolve(queued, chat_id=chat_id)

    async def _resume(self, command: dict[str, Any], queued_at: float) -> PendingAnswer:
        """Replay, per chat, exactly what came after the client's position, in order: the
        messages after a seq, or the log entries (messages and changes) after ``{"pos": P}``.

        Exact while nothing of the chat that the replay would cover has gone out on this socket
        yet (a client resumes first thing after opening); after that, or beyond ``max_replay``
        entries, the chat gets ``resync`` and the client pages its history over REST.
        """
        positions = _positions(command.get("positions"), self.max_chats)
        replayed: dict[str, int] = {}
        resync: list[str] = []
        unknown: list[str] = []
        async with self._sending:
            for chat_id, position in positions.items():
                stream = self._streams.get(ChatId(chat_id))
                if stream is None:
                    unknown.append(chat_id)
                    continue
                if isinstance(position, dict):
                    replayed[chat_id] = await self._replay_log(stream, chat_id, position["pos"])
                    if replayed[chat_id] < 0:
                        del replayed[chat_id]
                        resync.append(chat_id)
                    continue
                after_seq = position
                latest = stream.subscription.latest_seq
                if after_seq >= latest:
                    replayed[chat_id] = 0
                elif stream.sent_message or latest - after_seq > self.context.settings.max_replay:
                    resync.append(chat_id)
                    data = {"after_seq": after_seq, "latest_seq": latest,
                            "latest_pos": stream.subscription.latest_pos}  # fmt: skip
                    event = {"event": "resync", "chat_id": chat_id, "data": data}
                    await self._send([orjson.dumps(event).decode()])
                else:
                    page = MessagePage(
                        latest - after_seq, after_seq=after_seq, before_seq=latest + 1
                    )
                    messages = await self.registry.chat(chat_id).messages(page)
                    await self._send(self._entries(stream, [MessageReceived(m) for m in messages]))
                    stream.sent_message = stream.sent_message or bool(messages)
                    stream.sent_entry = stream.sent_entry or bool(messages)
                    replayed[chat_id] = len(messages)
        result = {"replayed": replayed, "resync": resync, "unknown": unknown}
        return answered(command.get("ref"), result, queued_at)

    async def _replay_log(self, stream: _ChatStream, chat_id: str, after_pos: int) -> int:
        """Send the chat's log entries after ``after_pos`` up to where live events began; how
        many, or -1 when the chat got ``resync`` instead."""
        subscription = stream.subscription
        latest = subscription.latest_pos
        if after_pos >= latest:
            return 0
        if stream.sent_entry or latest - after_pos > self.context.settings.max_replay:
            data = {"after_pos": after_pos, "latest_pos": latest,
                    "latest_seq": subscription.latest_seq}  # fmt: skip
            event = {"event": "resync", "chat_id": chat_id, "data": data}
            await self._send([orjson.dumps(event).decode()])
            return -1
        entries = await self.registry.chat(chat_id).log(after_pos, latest, latest - after_pos)
        await self._send(self._entries(stream, entries))
        stream.sent_entry = stream.sent_entry or bool(entries)
        stream.sent_message = stream.sent_message or any(
            isinstance(entry, MessageReceived) for entry in entries
        )
        return len(entries)


def _positions(raw: Any, max_chats: int) -> dict[str, int | dict[str, int]]:
    """``{chat_id: last_seq}`` or ``{chat_id: {"pos": last_pos}}`` per chat."""
    if not isinstance(raw, dict):
        raise InvalidInput("'positions' must be an object of chat_id: last_seq or {\"pos\": P}")
    if len(raw) > max_chats:
        raise InvalidInput(f"'positions' names more than {max_chats} chats")
    for chat_id, position in raw.items():
        value = position.get("pos") if isinstance(position, dict) else position
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < 0
            or (isinstance(position, dict) and len(position) != 1)
        ):
            raise InvalidInput(
                f"'positions[{chat_id!r}]' must be a non-negative integer (a seq) or"
                ' {"pos": P} with P a non-negative integer'
            )
    return raw
