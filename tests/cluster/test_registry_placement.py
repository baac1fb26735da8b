"""The registry in cluster mode, under Trio's mock clock: it activates chats only through its
``Placement``, runs each actor beside its ``Activation`` and stops the actor when the claim is
lost. A scripted placement stands in for Redis (the lease logic itself is tested against a real
Redis in test_keeper.py); the registry, the actors and the store are the real ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import pytest
import trio
import trio.testing

from chatactors.actors.commands import Subscribe, Unsubscribe
from chatactors.actors.placement import Handover
from chatactors.actors.registry import ChatRegistry, open_registry
from chatactors.actors.subscription import EndReason
from chatactors.domain.errors import ChatUnavailable
from chatactors.domain.events import ChatEvent, MessageReceived, PresenceUpdated
from chatactors.domain.ids import ChatId, UserId
from chatactors.domain.models import Message, MessageType, PresenceStatus
from chatactors.storage.memory import MemoryStore
from tests.conftest import FakeWallClock, make_settings

ANN = UserId("ann")


@attrs.define(eq=False)
class ScriptedActivation:
    published: list[ChatEvent] = attrs.field(factory=list)
    lost: trio.Event = attrs.field(factory=trio.Event)
    released: bool = False
    valid: bool = True
    owner_token: int | None = None
    taken_over: Handover = attrs.field(factory=Handover)
    #: Raised by ``release`` (after releasing), as a backend's unexpected reply would be.
    release_error: Exception | None = None

    def is_valid(self) -> bool:
        return self.valid and not self.released

    def publish(self, event: ChatEvent) -> None:
        self.published.append(event)

    def handover(self) -> Handover:
        return self.taken_over

    def started(self, owner_token: int) -> None:
        self.owner_token = owner_token

    async def keep(self) -> ChatUnavailable:
        await self.lost.wait()
        return ChatUnavailable("lease lost; retry")

    async def release(self) -> None:
        self.released = True
        self.lost.set()
        if self.release_error is not None:
            raise self.release_error


@attrs.define(eq=False)
class ScriptedPlacement:
    refuse: bool = False
    #: Raised by ``activate``: not a ChatUnavailable (a bug, a reply nobody expected).
    broken: Exception | None = None
    activations: list[ScriptedActivation] = attrs.field(factory=list)

    async def activate(self, chat_id: ChatId) -> ScriptedActivation:
        await trio.sleep(0.01)  # a Redis round trip
        if self.refuse:
            raise ChatUnavailable("held by another node; retry")
        if self.broken is not None:
            raise self.broken
        self.activations.append(ScriptedActivation())
        return self.activations[-1]


class StallingStore(MemoryStore):
    """Message writes wait while ``stall`` is unset."""

    stall: trio.Event | None = None

    async def append_message(self, message: Message, *, owner: int) -> None:
        if self.stall is not None:
            await self.stall.wait()
        await super().append_message(message, owner=owner)


GRACE_S = 5.0


@asynccontextmanager
async def placed_registry(
    placement: ScriptedPlacement, store: MemoryStore | None = None
) -> AsyncIterator[tuple[ChatRegistry, ChatId]]:
    settings = make_settings(idle_timeout_s=60, presence_grace_s=GRACE_S)
    async with open_registry(
        store or MemoryStore(), settings, now=FakeWallClock(), placement=placement
    ) as registry:
        chat = await registry.create_chat(["ann", "bob"])
        yield registry, chat.id


async def test_a_refused_activation_answers_503_and_is_tried_again(
    autojump_clock: trio.testing.MockClock,
) -> None:
    placement = ScriptedPlacement(refuse=True)
    async with placed_registry(placement) as (registry, chat_id):
        handle = registry.chat(chat_id)
        with pytest.raises(ChatUnavailable, match="another node"):
            await handle.post(ANN, MessageType.TEXT, "hi")
        assert not registry.holds(chat_id)
        placement.refuse = False
        assert (await handle.post(ANN, MessageType.TEXT, "hi")).seq == 1
        assert registry.holds(chat_id)
        assert registry.statistics().crashes == 0


async def test_an_activation_failing_unexpectedly_fails_its_chat_only(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # (Once, a reply error from Redis escaped a lease claim and took every chat down.)
    placement = ScriptedPlacement(broken=RuntimeError("READONLY You can't write"))
    async with placed_registry(placement) as (registry, chat_id):
        with pytest.raises(ChatUnavailable):
            await registry.chat(chat_id).post(ANN, MessageType.TEXT, "hi")
        assert registry.statistics().crashes == 1
        # The registry goes on: another chat, and this one after its backoff, are served.
        placement.broken = None
        other = await registry.create_chat(["ann", "bob"])
        assert (await registry.chat(other.id).post(ANN, MessageType.TEXT, "hi")).seq == 1
        await trio.sleep(2)
        assert (await registry.chat(chat_id).post(ANN, MessageType.TEXT, "hi")).seq == 1


async def test_a_release_failing_unexpectedly_is_logged_not_raised(
    autojump_clock: trio.testing.MockClock,
) -> None:
    placement = ScriptedPlacement()
    async with placed_registry(placement) as (registry, chat_id):
        await registry.chat(chat_id).post(ANN, MessageType.TEXT, "hi")
        (activation,) = placement.activations
        activation.release_error = RuntimeError("NOPERM")
        await trio.sleep(61)  # idle: the actor stops and gives the chat up, which fails
        assert activation.released
        assert (await registry.chat(chat_id).post(ANN, MessageType.TEXT, "again")).seq == 2


async def test_events_go_to_the_activation_in_order_and_idle_releases_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    placement = ScriptedPlacement()
    async with placed_registry(placement) as (registry, chat_id):
        handle = registry.chat(chat_id)
        for i in range(3):
            await handle.post(ANN, MessageType.TEXT, f"#{i}")
        (activation,) = placement.activations
        seqs = [e.message.seq for e in activation.published if isinstance(e, MessageReceived)]
        assert seqs == [1, 2, 3]
        await trio.sleep(61)  # idle: the actor stops and gives the chat up
        assert activation.released
        assert not registry.holds(chat_id)
        assert registry.statistics().active_actors == 0


async def test_a_lost_claim_fails_queued_callers_and_the_next_command_reactivates(
    autojump_clock: trio.testing.MockClock,
) -> None:
    placement = ScriptedPlacement()
    store = StallingStore()
    async with placed_registry(placement, store) as (registry, chat_id):
        handle = registry.chat(chat_id)
        await handle.post(ANN, MessageType.TEXT, "first")
        (first,) = placement.activations
        store.stall = trio.Event()
        outcomes: list[str] = []

        async def post(content: str) -> None:
            try:
                await handle.post(ANN, MessageType.TEXT, content)
                outcomes.append(f"{content}: ok")
            except ChatUnavailable as error:
                outcomes.append(f"{content}: {error}")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(post, "writing")  # in the store when the claim is lost
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(post, "queued")
            await trio.testing.wait_all_tasks_blocked()
            first.valid = False
            first.lost.set()
            await trio.testing.wait_all_tasks_blocked()
            assert outcomes == ["queued: lease lost; retry"]
            assert not registry.holds(chat_id)
            store.stall.set()
        # The write under way finishes (a real store would refuse it: the next load fenced it).
        assert outcomes[1] == "writing: ok"
        assert registry.statistics().active_actors == 0
        # The next command activates the chat anew, from the store.
        assert (await handle.post(ANN, MessageType.TEXT, "second")).seq == 3
        assert len(placement.activations) == 2
        assert registry.statistics().crashes == 0


async def test_a_lost_claim_ends_subscribers_as_moved_a_shutdown_as_shutdown(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The web edge closes the first with 1012 (reconnect: the chat is served elsewhere), the
    second with 1001 (this server is going away)."""
    placement = ScriptedPlacement()
    async with placed_registry(placement) as (registry, chat_id):
        moving = await registry.chat(chat_id).subscribe(ANN)
        (first,) = placement.activations
        first.valid = False
        first.lost.set()
        await trio.testing.wait_all_tasks_blocked()
        assert moving.end_reason is EndReason.MOVED
        stopping = await registry.chat(chat_id).subscribe(ANN)  # a new activation, still valid
        assert len(placement.activations) == 2
    assert stopping.end_reason is EndReason.SHUTDOWN
    assert registry.statistics().crashes == 0


async def test_a_remote_subscriber_counts_for_presence_and_keeps_the_chat_alive(
    autojump_clock: trio.testing.MockClock,
) -> None:
    placement = ScriptedPlacement()
    async with placed_registry(placement) as (registry, chat_id):
        registered = await (await registry.submit(chat_id, Subscribe(ANN, remote=True))).wait()
        (activation,) = placement.activations
        online = [e for e in activation.published if isinstance(e, PresenceUpdated)]
        assert [(e.presence.user_id, e.presence.status) for e in online] == [
            (ANN, PresenceStatus.ONLINE)
        ]
        await trio.sleep(600)  # far past the idle timeout: a subscriber keeps it alive
        assert registry.holds(chat_id)
        await (await registry.submit(chat_id, Unsubscribe(registered.id))).wait()
        # Its node closed it (or is gone: remote_subscribers unsubscribes it the same way):
        # offline only after the grace, as for a local socket.
        await trio.sleep(GRACE_S - 0.1)
        assert activation.published[-1] == online[-1]
        await trio.sleep(0.2)
        last = activation.published[-1]
        assert isinstance(last, PresenceUpdated)
        assert last.presence.status is PresenceStatus.OFFLINE


async def test_an_unsubscribe_from_an_earlier_activation_leaves_the_new_one_alone(
    autojump_clock: trio.testing.MockClock,
) -> None:
    placement = ScriptedPlacement()
    async with placed_registry(placement) as (registry, chat_id):
        old = await (await registry.submit(chat_id, Subscribe(ANN, remote=True))).wait()
        placement.activations[0].lost.set()  # the chat moves; ann's registration goes with it
        await trio.testing.wait_all_tasks_blocked()
        bob = UserId("bob")
        new = await (await registry.submit(chat_id, Subscribe(bob, remote=True))).wait()
        assert new.id != old.id
        # ann's socket closes now: its Unsubscribe reaches the new activation.
        await (await registry.submit(chat_id, Unsubscribe(old.id))).wait()
        await trio.sleep(GRACE_S * 2)  # had it taken bob's socket, his grace would be over
        presence = {p.user_id: p.status for p in await registry.chat(chat_id).presence()}
        assert presence[bob] is PresenceStatus.ONLINE
        await (await registry.submit(chat_id, Unsubscribe(new.id))).wait()
        await trio.sleep(GRACE_S)
        presence = {p.user_id: p.status for p in await registry.chat(chat_id).presence()}
        assert presence[bob] is PresenceStatus.OFFLINE
