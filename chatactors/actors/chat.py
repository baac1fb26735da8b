"""ChatActor: the one task that owns a chat, a thin I/O shell around its ChatState.

For each command from its inbox it asks the state what to do (``ChatState.apply``), awaits the
store writes, and only then adopts the outcome, answers, and offers the events to every
subscriber without waiting. It awaits nothing but its inbox and its own store calls, so no two
changes to a chat ever interleave and no lock is needed. A failed write fails only its request
(``StoreUnavailable``): nothing is acknowledged and the state stays as it was.

A write whose outcome is unknown (``OutcomeUnknown``: sent, never confirmed) is different: the
store may hold a message this actor never adopted, under a seq it would hand out again. So the
actor fails that request (504), fails what is queued (503: none of it ran), and ends; the next
request loads the chat afresh. That load claims the chat, so the unconfirmed write has either
landed before it (and is loaded, with its ``client_message_id``: a retry returns it) or is
refused for good (stale owner). A write refused as stale means another load claimed the chat
since: the actor ends the same way.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any, assert_never

import attrs
import trio

from chatactors.actors.chat_policy import ChatPolicy
from chatactors.actors.chat_state import ChatState
from chatactors.actors.commands import AnyCommand, PostMessage, Subscribe, Unsubscribe
from chatactors.actors.mailbox import Request
from chatactors.actors.outcome import (
    AppendMessage,
    ChangeMessage,
    FindMessage,
    Found,
    Outcome,
    ReadFromStore,
    ReadLogFromStore,
    SaveLastSeen,
    SaveReadMark,
    StoreWrite,
    SubscribePlan,
    UpdateChat,
)
from chatactors.actors.placement import Handover
from chatactors.actors.subscription import EndReason, Fanout, SharedOutbox, Subscription
from chatactors.actors.subscription_id import SubscriberKind, SubscriptionId
from chatactors.domain.clock import WallClock
from chatactors.domain.errors import (
    ChatError,
    ChatUnavailable,
    OutcomeUnknown,
    StoreUnavailable,
)
from chatactors.domain.events import ChatEvent, LogEvent, MessageReceived, removed_by
from chatactors.domain.ids import ChatId, MessageIdSource
from chatactors.domain.random_ids import new_message_id
from chatactors.settings import Settings
from chatactors.storage.store import ChatStore, LoadedChat, StaleOwner

log = logging.getLogger(__name__)

#: Called by a chat's actor, in its own task, when it starts: gets a passive subscription (one
#: that neither keeps the chat alive nor counts for presence) from before any command is handled.
ActivationHook = Callable[[ChatId, Subscription], None]


def always_owner() -> bool:
    """One process (no placement): it is always the chat's owner."""
    return True


#: The answer to the commands queued behind a write of unknown outcome (they never ran).
RELOADING = "The chat is reloading from the store; retry shortly"


@attrs.frozen
class ActorStatistics:
    """A snapshot of :meth:`ChatActor.statistics`: totals since the actor started. The registry
    adds them up (``+``), and keeps those of the actors that stopped."""

    #: Commands handled (a command withdrawn before it began is not).
    commands: int = 0
    #: Messages published.
    messages: int = 0
    #: Events published (messages, presence, read marks, changes).
    events: int = 0
    #: Events offered to this process's subscribers (an event offered to three counts three).
    deliveries: int = 0
    #: Subscribers dropped for falling behind.
    lagged: int = 0

    def __add__(self, other: ActorStatistics) -> ActorStatistics:
        return ActorStatistics(
            commands=self.commands + other.commands,
            messages=self.messages + other.messages,
            events=self.events + other.events,
            deliveries=self.deliveries + other.deliveries,
            lagged=self.lagged + other.lagged,
        )


@attrs.define(eq=False)
class ChatActor:
    """Build with :meth:`from_loaded`; run with :meth:`run`. Only its own task touches its state."""

    chat_id: ChatId
    _state: ChatState
    _store: ChatStore
    _settings: Settings
    _now: WallClock
    _activation_hooks: Sequence[ActivationHook] = ()
    _fanout: Fanout = attrs.field(factory=Fanout)
    #: Totals for ``statistics`` (the fanout counts what it offered and dropped).
    _commands: int = 0
    _messages: int = 0
    _events: int = 0
    #: The token the store claimed the chat with at loading; every write carries it (fencing).
    _owner_token: int = 0
    #: Cluster mode: where every event also goes, for subscribers in other processes.
    _outbox: Callable[[ChatEvent], None] | None = None
    #: Subscribers that listen elsewhere (``Subscribe(remote=True)``): they count for presence
    #: and keep the chat alive, but their events reach them through ``_outbox``.
    _remote: set[SubscriptionId] = attrs.field(factory=set)
    #: Cluster mode: whether this process may still act as the chat's owner (its lease is
    #: valid). A paused owner that wakes up after losing the chat delivers nothing stale to
    #: its own sockets either.
    _may_deliver: Callable[[], bool] = attrs.field(default=always_owner)
    #: The store may disagree with this actor's state (a write of unknown outcome, or another
    #: load claimed the chat): it serves nothing more and ends, to be loaded afresh.
    needs_reload: bool = False

    @classmethod
    def from_loaded(
        cls,
        loaded: LoadedChat,
        store: ChatStore,
        settings: Settings,
        now: WallClock,
        activation_hooks: Sequence[ActivationHook] = (),
        *,
        policy: ChatPolicy,
        message_ids: MessageIdSource = new_message_id,
        outbox: Callable[[ChatEvent], None] | None = None,
        may_deliver: Callable[[], bool] = always_owner,
        handover: Handover | None = None,
    ) -> ChatActor:
        state = ChatState.from_loaded(
            loaded, policy, handover, new_message_id=message_ids, now=now(),
            clock=trio.current_time(),
        )  # fmt: skip
        return cls(loaded.chat.id, state, store, settings, now, activation_hooks,
                   owner_token=loaded.owner_token, outbox=outbox,
                   may_deliver=may_deliver)  # fmt: skip

    @property
    def subscriber_count(self) -> int:
        return self._fanout.active_count + len(self._remote)

    def statistics(self) -> ActorStatistics:
        fanout = self._fanout.statistics()
        return ActorStatistics(
            commands=self._commands,
            messages=self._messages,
            events=self._events,
            deliveries=fanout.offered,
            lagged=fanout.lagged,
        )

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
            for hook in self._activation_hooks:
                hook(self.chat_id, self._open_passive_subscription())
            while True:
                if self.needs_reload:
                    # Synchronously, as when idle: no request slips in between.
                    self._fail_queued(inbox, ChatUnavailable(RELOADING))
                    deactivate()
                    reason = EndReason.RELOADED
                    return
                deadline = self._state.next_deadline() or math.inf
                if self._may_go_idle():
                    deadline = min(deadline, last_activity + self._settings.idle_timeout_s)
                request: Request | None = None
                with trio.move_on_at(deadline):
                    try:
                        request = await inbox.receive()
                    except trio.EndOfChannel:
                        # Stopping (shutdown, or the chat moved): the users in their grace go
                        # offline now, so their last-seen is kept.
                        await self._adopt_timers(self._state.end_graces())
                        reason = self._stop_reason()
                        return
                if request is not None:
                    last_activity = trio.current_time()
                    await self._serve(request)
                    if self.needs_reload:
                        continue
                timer_deadline = self._state.next_deadline()
                if timer_deadline is not None and timer_deadline <= trio.current_time():
                    await self._adopt_timers(self._state.expire(trio.current_time()))
                    if self.needs_reload:
                        continue
                if self._is_idle(last_activity):
                    try:
                        request = inbox.receive_nowait()
                    except trio.WouldBlock:
                        deactivate()
                        reason = EndReason.SHUTDOWN
                        return
                    except trio.EndOfChannel:
                        reason = self._stop_reason()
                        return
                    else:
                        last_activity = trio.current_time()
                        await self._serve(request)
        except trio.Cancelled:
            reason = EndReason.SHUTDOWN  # the registry's shutdown deadline ran out
            raise
        finally:
            self._fanout.end_all(reason)

    def _stop_reason(self) -> EndReason:
        """Why the inbox closed: the server is shutting down, or (cluster mode) this actor's
        claim on the chat is gone, so the chat moves to another activation; its subscribers
        are told which, and reconnect accordingly."""
        return EndReason.SHUTDOWN if self._may_deliver() else EndReason.MOVED

    @staticmethod
    def _fail_queued(inbox: trio.MemoryReceiveChannel[Request], error: ChatError) -> None:
        while True:
            try:
                inbox.receive_nowait().reply.fail(error)
            except (trio.WouldBlock, trio.EndOfChannel):
                return

    def _may_go_idle(self) -> bool:
        """Nothing but the inbox can wake this chat: no subscribers and no timers (so a chat
        whose last socket closed stays until that user's grace has run out)."""
        return not self.subscriber_count and self._state.next_deadline() is None

    def _is_idle(self, last_activity: float) -> bool:
        return self._may_go_idle() and (
            trio.current_time() >= last_activity + self._settings.idle_timeout_s
        )

    async def _serve(self, request: Request) -> None:
        if not request.reply.begin():
            return  # withdrawn: its caller gave up before it began, so it never runs
        self._commands += 1
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
        """Decide, write, then adopt and publish; raises the command's ``ChatError``."""
        if isinstance(command, Unsubscribe):
            unsubscribed = command.subscription_id
            if unsubscribed.kind is SubscriberKind.REMOTE:
                if unsubscribed.owner_token != self._owner_token:
                    return None  # registered with an earlier activation: not known here
            elif unsubscribed.kind is not SubscriberKind.LOCAL:
                return None  # (a node's bus subscriber never reaches an actor)
        outcome = self._state.apply(command, now=self._now(), clock=trio.current_time())
        if isinstance(outcome.result, FindMessage):
            # About a message older than the window: read it, then decide with it. Nothing
            # else runs meanwhile, so it is still current when the command is applied.
            message_id = outcome.result.message_id
            found = Found(message_id, await self._store.find_message(self.chat_id, message_id))
            outcome = self._state.apply(
                command, now=self._now(), clock=trio.current_time(), found=found
            )
            assert not isinstance(outcome.result, FindMessage), "a command needs one message"
        if outcome.error is not None:
            raise outcome.error
        try:
            for write in outcome.writes:
                if isinstance(write, AppendMessage):  # the hot one, without a coroutine more
                    await self._store.append_message(write.message, owner=self._owner_token)
                else:
                    await self._write(write)
        except (StoreUnavailable, OutcomeUnknown) as error:
            if isinstance(command, Unsubscribe):
                # The subscriber is gone whatever the store says; only its last-seen is lost.
                self._fanout.remove(command.subscription_id)
                self._remote.discard(command.subscription_id)
                self._adopt(outcome)
            if isinstance(error, OutcomeUnknown | StaleOwner):
                self.needs_reload = True
            if isinstance(error, OutcomeUnknown) and isinstance(command, PostMessage):
                detail = OutcomeUnknown.send_detail(command.client_message_id)
                raise OutcomeUnknown(detail) from error
            raise
        result = outcome.result
        if isinstance(result, ReadFromStore):
            return await self._store.read_messages(self.chat_id, result.page)
        if isinstance(result, ReadLogFromStore):
            return await self._store.read_log(self.chat_id, result.page)
        if isinstance(result, SubscribePlan):
            outbox = command.outbox if isinstance(command, Subscribe) else None
            remote = isinstance(command, Subscribe) and command.remote
            return await self._subscribe(result, outcome, outbox, remote=remote)
        if isinstance(command, Unsubscribe):
            self._fanout.remove(command.subscription_id)
            self._remote.discard(command.subscription_id)
        self._adopt(outcome)
        return result

    async def _adopt_timers(self, outcome: Outcome) -> None:
        """Write what timers decided (last-seen of users whose grace ran out), then adopt it."""
        try:
            for write in outcome.writes:
                await self._write(write)
        except (StoreUnavailable, OutcomeUnknown) as error:
            # They are gone whatever the store says; only their last-seen is lost (as when the
            # write of an Unsubscribe fails). No request waits for this: log it.
            log.warning("last-seen not saved: %s", error, extra={"chat_id": self.chat_id})
            if isinstance(error, OutcomeUnknown | StaleOwner):
                self.needs_reload = True
        self._adopt(outcome)

    async def _write(self, write: StoreWrite) -> None:
        match write:
            case AppendMessage(message):
                await self._store.append_message(message, owner=self._owner_token)
            case ChangeMessage(change):
                await self._store.change_message(change, owner=self._owner_token)
            case UpdateChat(update):
                await self._store.update_chat(update, owner=self._owner_token)
            case SaveReadMark(chat_id, mark):
                await self._store.set_read_mark(chat_id, mark, owner=self._owner_token)
            case SaveLastSeen(chat_id, user_id, moment):
                await self._store.set_last_seen(chat_id, user_id, moment, owner=self._owner_token)
            case _:
                assert_never(write)

    async def _subscribe(
        self,
        plan: SubscribePlan,
        outcome: Outcome,
        outbox: SharedOutbox | None,
        *,
        remote: bool = False,
    ) -> Subscription:
        replay: tuple[LogEvent, ...]
        if isinstance(plan.replay, ReadFromStore):
            messages = await self._store.read_messages(self.chat_id, plan.replay.page)
            replay = tuple(MessageReceived(m) for m in messages)
        elif isinstance(plan.replay, ReadLogFromStore):
            replay = tuple(await self._store.read_log(self.chat_id, plan.replay.page))
        else:
            replay = plan.replay
        # A remote subscriber's id names this activation too, so that its Unsubscribe, if it
        # reaches a later activation (the chat moved), cannot unsubscribe someone else there.
        subscription = Subscription.open(
            id=SubscriptionId.remote(plan.subscriber_id, self._owner_token)
            if remote
            else SubscriptionId.local(plan.subscriber_id),
            user_id=plan.user_id,
            replay=replay,
            resync_required=plan.resync_required,
            latest_seq=plan.latest_seq,
            latest_pos=plan.latest_pos,
            queue_size=1 if remote else self._settings.subscriber_queue_size,
            outbox=None if remote else outbox,
        )
        # Added before its events are published: a subscriber sees itself come online.
        if remote:
            self._remote.add(subscription.id)
        else:
            self._fanout.add(subscription)
        self._adopt(outcome)
        return subscription

    def _open_passive_subscription(self) -> Subscription:
        outcome = self._state.apply(Subscribe(), now=self._now(), clock=trio.current_time())
        assert isinstance(outcome.result, SubscribePlan)
        subscription = Subscription.open(
            id=SubscriptionId.local(outcome.result.subscriber_id),
            user_id=None,
            replay=(),
            resync_required=False,
            latest_seq=outcome.result.latest_seq,
            latest_pos=outcome.result.latest_pos,
            queue_size=self._settings.subscriber_queue_size,
        )
        self._fanout.add(subscription, passive=True)
        self._state.commit(outcome)
        return subscription

    def _adopt(self, outcome: Outcome) -> None:
        self._state.commit(outcome)
        for event in outcome.events:
            self._publish(event)
            if outcome.dropped and removed_by(event):
                self._drop(outcome.dropped)

    def _drop(self, subscriber_numbers: tuple[int, ...]) -> None:
        """End the subscriptions of a member just removed: they got the entry that removed
        them, and nothing after it. (A remote one is ended by its own node's bus, on that same
        entry; here it is only forgotten.)"""
        for number in subscriber_numbers:
            remote = SubscriptionId.remote(number, self._owner_token)
            if remote in self._remote:
                self._remote.discard(remote)
            else:
                self._fanout.end(SubscriptionId.local(number), EndReason.REMOVED)

    def _publish(self, event: ChatEvent) -> None:
        self._events += 1
        if self._outbox is not None:
            self._outbox(event)
        if isinstance(event, MessageReceived):
            self._messages += 1
        if self._fanout and self._may_deliver():
            self._fanout.publish(event)
