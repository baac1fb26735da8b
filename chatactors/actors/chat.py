"""ChatActor: the one task that owns a chat's messages, presence, read marks and subscribers.

It handles one command at a time from its inbox and awaits nothing but that inbox and its own
store writes, so no two changes to a chat ever interleave and no lock is needed. Events are
encoded once and offered to every subscriber without waiting.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, assert_never

import attrs
import trio

from chatactors.actors.commands import (
    AnyCommand,
    ChatInfo,
    GetChat,
    GetMessages,
    GetPresence,
    GetReadMarks,
    MarkRead,
    PostMessage,
    Request,
    SetPresence,
    Subscribe,
    Unsubscribe,
)
from chatactors.actors.subscription import EndReason, Fanout, SharedOutbox, Subscription
from chatactors.domain.clock import WallClock
from chatactors.domain.errors import ChatError, ChatUnavailable, NotAParticipant
from chatactors.domain.events import (
    ChatEvent,
    ChatRead,
    MessageReceived,
    PresenceUpdated,
    encode_event,
)
from chatactors.domain.ids import BOT_USER, ChatId, UserId, new_message_id
from chatactors.domain.models import Message, Presence, PresenceStatus, ReadMark
from chatactors.domain.rules import check_content
from chatactors.settings import Settings
from chatactors.storage.store import ChatStore, LoadedChat, MessagePage, select_page

log = logging.getLogger(__name__)


@attrs.define
class ActorCounters:
    """Running totals of one actor; the registry adds them up (and keeps them when it stops)."""

    commands: int = 0
    messages: int = 0
    events: int = 0
    deliveries: int = 0
    lagged: int = 0

    def add(self, other: ActorCounters) -> None:
        for field in attrs.fields(ActorCounters):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


@attrs.define(eq=False)
class ChatActor:
    """Build with :meth:`from_loaded`; run with :meth:`run`. Only its own task touches its state."""

    chat_id: ChatId
    _loaded: LoadedChat
    _store: ChatStore
    _settings: Settings
    _now: WallClock
    _participants: frozenset[UserId]
    _messages: deque[Message]
    _last_seq: int
    _client_ids: OrderedDict[tuple[UserId, str], Message]
    _presence: dict[UserId, Presence]
    _read_marks: dict[UserId, ReadMark]
    #: When each typing user falls back to online, in Trio time.
    _typing_until: dict[UserId, float] = attrs.field(factory=dict)
    #: Which user each socket subscription counts for, for socket-driven presence.
    _socket_users: dict[int, UserId] = attrs.field(factory=dict)
    _fanout: Fanout = attrs.field(factory=Fanout)
    #: Wakes the bot after a human message; size 1, so a burst coalesces into one wake-up.
    _bot_wakeups: trio.MemorySendChannel[None] | None = None
    #: Tells whether the bot is in the middle of a sequence (then the actor is not idle).
    _bot_busy: Callable[[], bool] = lambda: False
    counters: ActorCounters = attrs.field(factory=lambda: ActorCounters())

    @classmethod
    def from_loaded(
        cls, loaded: LoadedChat, store: ChatStore, settings: Settings, now: WallClock
    ) -> ChatActor:
        chat = loaded.chat
        return cls(
            chat_id=chat.id,
            loaded=loaded,
            store=store,
            settings=settings,
            now=now,
            participants=frozenset(chat.participants),
            messages=deque(loaded.recent, maxlen=max(settings.history_window, 1)),
            last_seq=loaded.last_seq,
            client_ids=OrderedDict(loaded.client_ids),
            presence={
                user: Presence(
                    user, PresenceStatus.OFFLINE, loaded.last_seen.get(user, chat.created_at)
                )
                for user in chat.participants
            },
            read_marks=dict(loaded.read_marks),
        )

    def attach_bot(self, wakeups: trio.MemorySendChannel[None], busy: Callable[[], bool]) -> None:
        self._bot_wakeups = wakeups
        self._bot_busy = busy

    @property
    def subscriber_count(self) -> int:
        return len(self._fanout)

    # -- the loop -------------------------------------------------------------------------

    async def run(
        self, inbox: trio.MemoryReceiveChannel[Request], deactivate: Callable[[], None]
    ) -> None:
        """Handle requests until the inbox closes, or until the chat is idle.

        When idle and the inbox is empty, ``deactivate`` is called synchronously: the registry
        forgets this actor and closes its inbox with no checkpoint in between, so a request
        either arrived before (and is handled) or finds the inbox closed (and is re-sent to a
        new actor); none is lost.
        """
        reason = EndReason.CRASHED
        last_activity = trio.current_time()
        try:
            while True:
                deadline = min(self._typing_until.values(), default=math.inf)
                if self._may_go_idle():
                    deadline = min(deadline, last_activity + self._settings.idle_timeout_s)
                request: Request | None = None
                with trio.move_on_at(deadline):
                    try:
                        request = await inbox.receive()
                    except trio.EndOfChannel:
                        reason = EndReason.SHUTDOWN
                        return
                if request is not None:
                    last_activity = trio.current_time()
                    await self._serve(request)
                self._expire_typing()
                if self._is_idle(last_activity) and self._bot_busy():
                    # The bot is between steps (its next command will come): look again later.
                    last_activity = trio.current_time()
                if self._is_idle(last_activity):
                    try:
                        request = inbox.receive_nowait()
                    except trio.WouldBlock:
                        deactivate()
                        reason = EndReason.SHUTDOWN
                        return
                    except trio.EndOfChannel:
                        reason = EndReason.SHUTDOWN
                        return
                    else:
                        last_activity = trio.current_time()
                        await self._serve(request)
        finally:
            self._fanout.end_all(reason)

    def _may_go_idle(self) -> bool:
        """Nothing but the inbox can wake this chat: no subscribers and no timers."""
        return not self._fanout and not self._typing_until

    def _is_idle(self, last_activity: float) -> bool:
        return self._may_go_idle() and (
            trio.current_time() >= last_activity + self._settings.idle_timeout_s
        )

    async def _serve(self, request: Request) -> None:
        self.counters.commands += 1
        try:
            result = await self.handle(request.command)
        except ChatError as error:
            request.reply.fail(error)
        except Exception:
            # A bug, not bad input (bad input is a ChatError by construction): fail this
            # request, and let the registry restart the chat from the store.
            request.reply.fail(ChatUnavailable())
            raise
        else:
            request.reply.set(result)

    async def handle(self, command: AnyCommand) -> Any:
        match command:
            case PostMessage():
                return await self._post(command)
            case SetPresence(user_id, status):
                return await self._set_presence(user_id, status)
            case MarkRead(user_id):
                return await self._mark_read(user_id)
            case GetMessages(page, viewer):
                self._require_viewer(viewer)
                return await self._read_page(page)
            case GetPresence(viewer):
                self._require_viewer(viewer)
                return list(self._presence.values())
            case GetReadMarks(viewer):
                self._require_viewer(viewer)
                return [
                    self._read_marks.get(user, ReadMark(user, None, 0))
                    for user in self._loaded.chat.participants
                ]
            case GetChat(viewer):
                self._require_viewer(viewer)
                return ChatInfo(self._loaded.chat, self._last_seq)
            case Subscribe(user_id, after_seq, outbox):
                return await self._subscribe(user_id, after_seq, outbox)
            case Unsubscribe(subscription_id):
                return await self._unsubscribe(subscription_id)
            case _:
                assert_never(command)

    # -- commands -------------------------------------------------------------------------

    def _require_viewer(self, viewer: UserId | None) -> None:
        if viewer is not None:
            self._require_participant(viewer)

    def _require_participant(self, user_id: UserId) -> None:
        if user_id not in self._participants:
            raise NotAParticipant(user_id, self.chat_id)

    async def _post(self, command: PostMessage) -> Message:
        self._require_participant(command.user_id)
        check_content(command.content, self._settings.limits)
        if command.client_message_id is not None:
            original = self._client_ids.get((command.user_id, command.client_message_id))
            if original is not None:
                return original
        timestamp = self._now()
        if self._messages and timestamp < self._messages[-1].timestamp:
            timestamp = self._messages[-1].timestamp  # a wall clock that stepped back
        message = Message(
            id=new_message_id(),
            chat_id=self.chat_id,
            seq=self._last_seq + 1,
            user_id=command.user_id,
            type=command.type,
            content=command.content,
            timestamp=timestamp,
            client_message_id=command.client_message_id,
        )
        await self._store.append_message(message)
        self._last_seq = message.seq
        self._messages.append(message)
        if message.client_message_id is not None:
            self._client_ids[(message.user_id, message.client_message_id)] = message
            while len(self._client_ids) > self._settings.idempotency_window:
                self._client_ids.popitem(last=False)
        self.counters.messages += 1
        self._publish(MessageReceived(message))
        if message.user_id != BOT_USER and self._bot_wakeups is not None:
            # If the bot is already due to answer, that answer covers this message too.
            with contextlib.suppress(trio.WouldBlock):
                self._bot_wakeups.send_nowait(None)
        return message

    async def _set_presence(self, user_id: UserId, status: PresenceStatus) -> Presence:
        self._require_participant(user_id)
        if status is PresenceStatus.TYPING:
            self._typing_until[user_id] = trio.current_time() + self._settings.typing_timeout_s
        else:
            self._typing_until.pop(user_id, None)
        return await self._change_presence(user_id, status)

    async def _change_presence(self, user_id: UserId, status: PresenceStatus) -> Presence:
        """Apply a status; store and broadcast only if it changed (typing floods stay cheap)."""
        current = self._presence[user_id]
        if current.status is status:
            return current
        last_seen = current.last_seen
        if status is PresenceStatus.OFFLINE:
            last_seen = self._now()
            await self._store.set_last_seen(self.chat_id, user_id, last_seen)
        updated = Presence(user_id, status, last_seen)
        self._presence[user_id] = updated
        self._publish(PresenceUpdated(updated))
        return updated

    def _expire_typing(self) -> None:
        now = trio.current_time()
        expired = [user for user, until in self._typing_until.items() if until <= now]
        for user_id in expired:
            del self._typing_until[user_id]
            if self._presence[user_id].status is PresenceStatus.TYPING:
                updated = attrs.evolve(self._presence[user_id], status=PresenceStatus.ONLINE)
                self._presence[user_id] = updated
                self._publish(PresenceUpdated(updated))

    async def _mark_read(self, user_id: UserId) -> ReadMark:
        self._require_participant(user_id)
        current = self._read_marks.get(user_id, ReadMark(user_id, None, 0))
        if not self._messages or current.seq >= self._last_seq:
            return current
        mark = ReadMark(user_id, self._messages[-1].id, self._last_seq)
        await self._store.set_read_mark(self.chat_id, mark)
        self._read_marks[user_id] = mark
        self._publish(ChatRead(self.chat_id, user_id, mark.message_id, mark.seq))
        return mark

    async def _read_page(self, page: MessagePage) -> list[Message]:
        """Serve from the in-memory window when it covers the page, else from the store."""
        if page.limit <= 0:
            return []
        if page.after_seq is not None and page.before_seq is None:
            lowest_needed = page.after_seq + 1
        else:
            upper = self._last_seq + 1 if page.before_seq is None else page.before_seq
            lowest_needed = max(upper - page.limit, (page.after_seq or 0) + 1, 1)
        window_start = self._messages[0].seq if self._messages else self._last_seq + 1
        if lowest_needed >= window_start:
            return select_page(list(self._messages), page)
        return await self._store.read_messages(self.chat_id, page)

    async def _subscribe(
        self, user_id: UserId | None, after_seq: int | None, outbox: SharedOutbox | None
    ) -> Subscription:
        if user_id is not None:
            self._require_participant(user_id)
        replay: tuple[Message, ...] = ()
        resync = False
        if after_seq is not None and after_seq < self._last_seq:
            missed = self._last_seq - max(after_seq, 0)
            if missed > self._settings.max_replay:
                resync = True
            else:
                replay = tuple(
                    await self._read_page(MessagePage(limit=missed, after_seq=max(after_seq, 0)))
                )
        subscription = Subscription.open(
            user_id=user_id,
            replay=replay,
            resync_required=resync,
            latest_seq=self._last_seq,
            queue_size=self._settings.subscriber_queue_size,
            outbox=outbox,
        )
        self._fanout.add(subscription)
        if user_id is not None:
            self._socket_users[subscription.id] = user_id
            if self._presence[user_id].status is PresenceStatus.OFFLINE:
                await self._change_presence(user_id, PresenceStatus.ONLINE)
        return subscription

    async def _unsubscribe(self, subscription_id: int) -> None:
        self._fanout.remove(subscription_id)
        user_id = self._socket_users.pop(subscription_id, None)
        if user_id is not None and user_id not in self._socket_users.values():
            self._typing_until.pop(user_id, None)
            await self._change_presence(user_id, PresenceStatus.OFFLINE)

    def _publish(self, event: ChatEvent) -> None:
        self.counters.events += 1
        if self._fanout:
            self.counters.deliveries += len(self._fanout)
            self._fanout.publish(encode_event(event))
            self.counters.lagged = self._fanout.lagged_total
