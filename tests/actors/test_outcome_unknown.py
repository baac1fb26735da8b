"""A write whose outcome is unknown: the chat reloads from the store, so that seq numbering and
idempotency follow what the store really holds; a command withdrawn before it began never runs.

Policy: ``autojump_clock``; a memory store whose append under test is scripted
(``unconfirmed_store``), so the stored truth is real and only the answer is withheld.
"""

from __future__ import annotations

import pytest
import trio

from chatactors.actors.subscription import EndReason
from chatactors.domain.errors import ChatUnavailable, OutcomeUnknown
from chatactors.domain.ids import UserId
from chatactors.domain.models import MessageType
from chatactors.storage.store import MessagePage
from tests.actors.events import drain, seqs
from tests.actors.unconfirmed_store import Unconfirmed, UnconfirmedStore
from tests.conftest import make_settings, running_registry

ALICE = UserId("alice")
TEXT = MessageType.TEXT


@pytest.mark.parametrize("how", [Unconfirmed.LANDED, Unconfirmed.LOST])
async def test_an_unconfirmed_send_is_504_and_a_retry_finds_what_the_store_holds(
    how: Unconfirmed, autojump_clock: trio.testing.MockClock
) -> None:
    store = UnconfirmedStore()
    async with running_registry(make_settings(), store) as registry:
        chat = registry.chat((await registry.create_chat(["alice", "bob"])).id)
        watcher = await chat.subscribe(ALICE)
        await chat.post(ALICE, TEXT, "one", client_message_id="k1")
        drain(watcher)

        store.hold_next_append(how)
        async with trio.open_nursery() as nursery:

            async def send_two() -> None:
                with pytest.raises(OutcomeUnknown, match="retry with the same client_message_id"):
                    await chat.post(ALICE, TEXT, "two", client_message_id="k2")

            nursery.start_soon(send_two)
            await store.sent.wait()
            # Queued behind the unconfirmed write: it never runs, and says so (503).
            behind = await chat.queue_post(ALICE, TEXT, "three", client_message_id="k3")
            store.release.set()
        with pytest.raises(ChatUnavailable):
            await behind.wait()

        # The actor ended rather than go on beside a store that may disagree with it.
        assert watcher.end_reason is EndReason.RELOADED
        assert drain(watcher) == []
        stats = registry.statistics()
        assert (stats.reloads, stats.crashes) == (1, 0)
        landed = how is Unconfirmed.LANDED
        assert await store.contents(chat.chat_id) == (["one", "two"] if landed else ["one"])

        # Loaded again: a retry returns the stored message, or stores it now, once either way.
        retried = await chat.post(ALICE, TEXT, "two", client_message_id="k2")
        again = await chat.post(ALICE, TEXT, "two", client_message_id="k2")
        three = await chat.post(ALICE, TEXT, "three", client_message_id="k3")
        assert (retried.seq, again, three.seq) == (2, retried, 3)
        assert await store.contents(chat.chat_id) == ["one", "two", "three"]
        assert [m.seq for m in await chat.messages(MessagePage(limit=10))] == [1, 2, 3]
    assert registry.statistics().crashes == 0


async def test_a_send_without_client_message_id_is_told_how_to_retry_safely(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = UnconfirmedStore()
    async with running_registry(make_settings(), store) as registry:
        chat = registry.chat((await registry.create_chat(["alice", "bob"])).id)
        store.hold_next_append(Unconfirmed.LOST)
        store.release.set()
        with pytest.raises(OutcomeUnknown, match="send a client_message_id"):
            await chat.post(ALICE, TEXT, "one")
        assert (await chat.post(ALICE, TEXT, "one")).seq == 1


async def test_a_command_withdrawn_before_it_began_never_runs(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = UnconfirmedStore()
    async with running_registry(make_settings(), store) as registry:
        chat = registry.chat((await registry.create_chat(["alice", "bob"])).id)
        watcher = await chat.subscribe(ALICE)
        store.hold_next_append(Unconfirmed.CONFIRMED)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(chat.post, ALICE, TEXT, "slow")
            await store.sent.wait()
            with trio.move_on_after(1) as gave_up:
                await chat.post(ALICE, TEXT, "withdrawn")  # queued behind "slow"
            assert gave_up.cancelled_caught
            store.release.set()
        after = await chat.post(ALICE, TEXT, "after")
        assert after.seq == 2
        assert await store.contents(chat.chat_id) == ["slow", "after"]
        assert seqs(drain(watcher)) == [1, 2]
        assert registry.statistics().reloads == 0
