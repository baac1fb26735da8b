"""ChatRegistry: maps chat ids to actors, activates them on use, and supervises them.

Actors are virtual: a chat's actor starts on its first request (loading its recent state from
the store) and stops after an idle time with no subscribers. Supervision is one-for-one: an
actor that crashes fails its pending requests with ``ChatUnavailable``, is logged with its chat
id, and is started again from the store on a later request, after a backoff; other chats never
notice. An actor that ends because the store may disagree with it (``ChatActor.needs_reload``)
is loaded again on the next request, with no backoff and no crash counted.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import attrs
import trio

from chatactors.actors.chat import ActivationHook, ActorStatistics, ChatActor, always_owner
from chatactors.actors.chat_policy import ChatPolicy
from chatactors.actors.commands import ChatChanged, Command
from chatactors.actors.handle import ChatHandle
from chatactors.actors.mailbox import Mailbox, Request
from chatactors.actors.placement import Activation, Placement
from chatactors.actors.reply import Reply
from chatactors.actors.user_feeds import ChatAdded, UserFeeds
from chatactors.domain.clock import WallClock, utc_now
from chatactors.domain.errors import (
    ChatError,
    ChatNotFound,
    ChatUnavailable,
    OutcomeUnknown,
    Overloaded,
    ServerShuttingDown,
    StoreUnavailable,
)
from chatactors.domain.ids import ChatId, UserId
from chatactors.domain.models import Chat, ChatSummary
from chatactors.domain.random_ids import new_chat_id
from chatactors.domain.rules import chat_kind, check_title, normalise_participants
from chatactors.settings import Settings
from chatactors.storage.store import ChatStore

log = logging.getLogger(__name__)
R = TypeVar("R")
#: The answer to a chat creation whose write went out but was never confirmed.
CREATE_OUTCOME_UNKNOWN = (
    "outcome unknown: the chat may have been created; look for it in GET /chats?user_id=... "
    "before creating it again"
)


@attrs.frozen
class RegistryStatistics:
    """A snapshot of :meth:`ChatRegistry.statistics`: the actors now, and totals since the
    registry opened."""

    #: Chat actors running now (or starting).
    active_actors: int
    #: Subscribers that keep a chat alive (sockets, here or on other nodes; not the bot's).
    subscribers: int
    #: Requests waiting in every inbox.
    queued_requests: int
    #: Actors started, stopped when idle, and crashed (a bug, or a placement that failed).
    activations: int
    deactivations: int
    crashes: int
    #: Actors that ended to be loaded afresh (after a write of unknown outcome).
    reloads: int = 0
    #: Totals over every actor that ever ran in this registry (see ``ActorStatistics``).
    commands: int = 0
    messages: int = 0
    events: int = 0
    deliveries: int = 0
    lagged_subscribers: int = 0


@attrs.define(eq=False)
class _ActorSlot:
    inbox: trio.MemorySendChannel[Request]
    receive: trio.MemoryReceiveChannel[Request]
    actor: ChatActor | None = None
    activation: Activation | None = None


@attrs.define(eq=False)
class ChatRegistry:
    """The in-process :class:`~chatactors.actors.mailbox.Mailbox`: one actor per active chat."""

    _store: ChatStore
    _settings: Settings
    _nursery: trio.Nursery
    _now: WallClock
    #: Cluster mode: where actors may run (None: anywhere, this is the only process).
    _placement: Placement | None = None
    #: Cluster mode: makes the mailbox handles reach chats through, around this registry
    #: (None: this registry itself).
    _route: Callable[[ChatRegistry], Mailbox] | None = None
    #: What handles reach chats through: this registry, or a cluster's router around it.
    mailbox: Mailbox = attrs.field(init=False)
    _activation_hooks: list[ActivationHook] = attrs.field(factory=list)
    _slots: dict[ChatId, _ActorSlot] = attrs.field(factory=dict)
    _backoff_until: dict[ChatId, float] = attrs.field(factory=dict)
    _closing: bool = False
    _activations: int = 0
    _deactivations: int = 0
    _crashes: int = 0
    _reloads: int = 0
    #: Totals of the actors that have stopped; the live ones are added at read time.
    _retired: ActorStatistics = attrs.field(factory=ActorStatistics)
    #: Open user sockets, told about each chat created for their user.
    user_feeds: UserFeeds = attrs.field(factory=UserFeeds)
    #: What every chat's state applies, made from the settings once.
    _chat_policy: ChatPolicy = attrs.field(
        init=False, default=attrs.Factory(lambda self: chat_policy(self._settings), takes_self=True)
    )

    def __attrs_post_init__(self) -> None:
        self.mailbox = self if self._route is None else self._route(self)

    # -- chats ------------------------------------------------------------------------------

    @property
    def closing(self) -> bool:
        return self._closing

    def chat(self, chat_id: str) -> ChatHandle:
        return ChatHandle(ChatId(chat_id), self.mailbox)

    def holds(self, chat_id: ChatId) -> bool:
        """Whether an actor here owns the chat by a valid claim (cluster mode)."""
        slot = self._slots.get(chat_id)
        return slot is not None and slot.activation is not None and slot.activation.is_valid()

    def on_activation(self, hook: ActivationHook) -> None:
        """Call ``hook`` in every chat actor that starts from now on (see ``ActivationHook``)."""
        self._activation_hooks.append(hook)

    async def create_chat(
        self,
        participants: list[str],
        *,
        title: str | None = None,
        group: bool = False,
        created_by: UserId | None = None,
    ) -> Chat:
        """Store a new chat (answers once committed): one-to-one for two people without a
        title unless ``group``; created by ``created_by`` (by default its first participant).
        Raises ``InvalidInput``."""
        limits = self._settings.limits
        members = normalise_participants(participants, limits)
        title = check_title(title, limits)
        creator = members[0] if created_by is None else created_by
        chat = Chat(new_chat_id(), members, self._now(), title,
                    chat_kind(members, title=title, group=group), creator)  # fmt: skip
        try:
            await self._store.create_chat(chat)
        except OutcomeUnknown as error:
            raise OutcomeUnknown(CREATE_OUTCOME_UNKNOWN) from error
        await self.user_feeds.created(chat)
        return chat

    async def members_added(self, changed: ChatChanged) -> None:
        """Announce a chat to the members just added to it (their user sockets, on every
        node), once the change is stored: what its owner answered to ``AddParticipants``."""
        message = changed.message
        if message is not None and message.system is not None:
            await self.user_feeds.added(ChatAdded(changed.info.chat, message))

    async def list_chats(self) -> list[Chat]:
        return await self._store.list_chats(limit=self._settings.max_history_page)

    async def list_user_chats(self, user_id: UserId) -> list[ChatSummary]:
        return await self._store.list_user_chats(user_id, limit=self._settings.max_history_page)

    def statistics(self) -> RegistryStatistics:
        actors = [slot.actor for slot in self._slots.values() if slot.actor is not None]
        totals = sum((actor.statistics() for actor in actors), self._retired)
        return RegistryStatistics(
            active_actors=len(self._slots),
            subscribers=sum(actor.subscriber_count for actor in actors),
            queued_requests=sum(
                slot.receive.statistics().current_buffer_used for slot in self._slots.values()
            ),
            activations=self._activations,
            deactivations=self._deactivations,
            crashes=self._crashes,
            reloads=self._reloads,
            commands=totals.commands,
            messages=totals.messages,
            events=totals.events,
            deliveries=totals.deliveries,
            lagged_subscribers=totals.lagged,
        )

    # -- requests ---------------------------------------------------------------------------

    async def submit(self, chat_id: ChatId, command: Command[R]) -> Reply[R]:
        """Queue a command at the chat's actor; its answer arrives on the returned Reply.

        Waits only while the inbox is full. Commands one task submits run in that order, so a
        socket can queue its next command before the previous one is answered (pipelining).
        """
        reply: Reply[R] = Reply(withdrawable=True)  # the actor begins it (ChatActor._serve)
        request = Request(command, reply)  # type: ignore[arg-type]
        # A second try covers an actor that went idle and closed its inbox just now.
        for attempt in range(2):
            inbox = self._inbox_for(chat_id)
            try:
                try:
                    inbox.send_nowait(request)
                except trio.WouldBlock:
                    with trio.move_on_after(self._settings.inbox_wait_s):
                        await inbox.send(request)
                        break
                    raise Overloaded() from None
                break
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                if attempt == 1:
                    raise (ServerShuttingDown() if self._closing else ChatUnavailable()) from None
        return reply

    def _inbox_for(self, chat_id: ChatId) -> trio.MemorySendChannel[Request]:
        slot = self._slots.get(chat_id)
        if slot is not None:
            return slot.inbox
        if self._closing:
            raise ServerShuttingDown()
        if trio.current_time() < self._backoff_until.get(chat_id, -1.0):
            raise ChatUnavailable()
        inbox, receive = trio.open_memory_channel[Request](self._settings.inbox_size)
        slot = _ActorSlot(inbox, receive)
        self._slots[chat_id] = slot
        self._activations += 1
        self._nursery.start_soon(self._run_actor, chat_id, slot, name=f"chat:{chat_id}")
        return inbox

    def _forget(self, chat_id: ChatId, slot: _ActorSlot) -> None:
        """Drop the slot and close its inbox, failing whatever is queued. No checkpoint inside."""
        if self._slots.get(chat_id) is slot:
            del self._slots[chat_id]
        slot.receive.close()

    def _fail_queued(self, slot: _ActorSlot, error: ChatError) -> None:
        while True:
            try:
                slot.receive.receive_nowait().reply.fail(error)
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                return

    async def _run_actor(self, chat_id: ChatId, slot: _ActorSlot) -> None:
        try:
            await self._load_and_run(chat_id, slot)
        finally:
            if slot.actor is not None:
                self._retired += slot.actor.statistics()
                slot.actor = None

    async def _load_and_run(self, chat_id: ChatId, slot: _ActorSlot) -> None:
        if self._placement is not None:
            try:
                slot.activation = await self._placement.activate(chat_id)
            except ChatUnavailable as error:
                self._fail_queued(slot, error)
                self._forget(chat_id, slot)
                return
            except Exception:
                # A placement failing otherwise (a bug, a reply its backend was not expected
                # to give) fails this chat's callers, never the registry and its other chats.
                self._crashes += 1
                log.exception("chat not activated", extra={"chat_id": chat_id})
                self._backoff_until[chat_id] = trio.current_time() + self._settings.crash_backoff_s
                self._fail_queued(slot, ChatUnavailable())
                self._forget(chat_id, slot)
                return
        try:
            loaded = await self._store.load_chat(
                chat_id,
                window=self._settings.history_window,
                idempotency_window=self._settings.idempotency_window,
            )
            if loaded is None:
                self._fail_queued(slot, ChatNotFound(chat_id))
                self._forget(chat_id, slot)
                return
            actor = ChatActor.from_loaded(
                loaded, self._store, self._settings, self._now, tuple(self._activation_hooks),
                policy=self._chat_policy,
                outbox=None if slot.activation is None else slot.activation.publish,
                may_deliver=always_owner if slot.activation is None else slot.activation.is_valid,
                handover=None if slot.activation is None else slot.activation.handover(),
            )  # fmt: skip
            slot.actor = actor

            def deactivate() -> None:
                self._deactivations += 1
                self._forget(chat_id, slot)

            if slot.activation is None:
                await actor.run(slot.receive, deactivate)
            else:
                slot.activation.started(loaded.owner_token)
                await self._run_placed(chat_id, slot, actor, slot.activation, deactivate)
            self._backoff_until.pop(chat_id, None)
            if actor.needs_reload:
                self._reloads += 1
                log.warning("chat ended to be loaded again: the store may disagree with it",
                            extra={"chat_id": chat_id})  # fmt: skip
        except (StoreUnavailable, OutcomeUnknown) as error:
            # The store is down, not this chat (a write failure never gets here: the actor
            # answers it per request): fail what is queued with the store's 503 and let the next
            # request load again, with no crash counted and no backoff. (A load's claim whose
            # outcome is unknown changed nothing a client sees: its requests never ran.)
            log.warning("chat not loaded: %s", error, extra={"chat_id": chat_id})
            self._fail_queued(
                slot, error if isinstance(error, StoreUnavailable) else StoreUnavailable()
            )
            self._forget(chat_id, slot)
        except Exception:
            self._crashes += 1
            log.exception("chat actor crashed", extra={"chat_id": chat_id})
            self._backoff_until[chat_id] = trio.current_time() + self._settings.crash_backoff_s
            self._fail_queued(slot, ChatUnavailable())
            self._forget(chat_id, slot)
        else:
            if self._closing:
                self._fail_queued(slot, ServerShuttingDown())
        finally:
            if slot.activation is not None:
                with (
                    trio.CancelScope(shield=True),
                    trio.move_on_after(self._settings.shutdown_timeout_s),
                ):
                    try:
                        await slot.activation.release()
                    except Exception:  # (its claim then lapses by itself)
                        log.exception("chat's claim not released", extra={"chat_id": chat_id})

    async def _run_placed(
        self,
        chat_id: ChatId,
        slot: _ActorSlot,
        actor: ChatActor,
        activation: Activation,
        deactivate: Callable[[], None],
    ) -> None:
        """Run the actor beside its claim; once the claim is lost, fail what is queued and let
        the actor end after its current command (the store refuses its writes by then)."""
        async with trio.open_nursery() as nursery:

            async def keep() -> None:
                error = await activation.keep()
                if self._slots.get(chat_id) is slot:
                    del self._slots[chat_id]
                slot.inbox.close()
                self._fail_queued(slot, error)

            nursery.start_soon(keep)
            await actor.run(slot.receive, deactivate)
            # Still beside the claim: its last events go out before it is given up.
            await activation.release()
            nursery.cancel_scope.cancel()

    def begin_shutdown(self) -> None:
        """Refuse new commands; each actor handles what is queued, then stops (subscribers get
        ``EndReason.SHUTDOWN``)."""
        self._closing = True
        for slot in self._slots.values():
            slot.inbox.close()


def chat_policy(settings: Settings) -> ChatPolicy:
    """What a chat's state needs of the settings."""
    return ChatPolicy(
        limits=settings.limits,
        history_window=settings.history_window,
        idempotency_window=settings.idempotency_window,
        max_replay=settings.max_replay,
        max_reaction_keys=settings.max_reaction_keys,
        typing_timeout_s=settings.typing_timeout_s,
        presence_grace_s=settings.presence_grace_s,
    )


@asynccontextmanager
async def open_registry(
    store: ChatStore,
    settings: Settings,
    *,
    now: WallClock = utc_now,
    placement: Placement | None = None,
    route: Callable[[ChatRegistry], Mailbox] | None = None,
    user_feeds: UserFeeds | None = None,
) -> AsyncIterator[ChatRegistry]:
    """Run a registry; on exit, let every actor finish what is queued (bounded), then stop.

    Cluster mode: ``placement`` decides where actors run, ``route(registry)`` makes the mailbox
    its handles use, and ``user_feeds`` relays chats created here to the other nodes.
    """
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            registry = ChatRegistry(
                store, settings, nursery, now, placement, route,
                user_feeds=user_feeds or UserFeeds(),
            )  # fmt: skip
            try:
                yield registry
            finally:
                registry.begin_shutdown()
                scope.deadline = trio.current_time() + settings.shutdown_timeout_s
