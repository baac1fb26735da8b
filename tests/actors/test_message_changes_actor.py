"""Message changes through the chat's actor: the store is asked for what memory lacks, the
log survives a reload, and subscribers see every change.

Policy: a real registry over the memory store, Trio's mock clock (``autojump_clock``); the
bot off (its messages would take positions).
"""

from __future__ import annotations

import pytest
import trio

from chatactors.domain.errors import MessageNotFound
from chatactors.domain.events import MessageReceived, MessageUpdated
from chatactors.domain.ids import MessageId, UserId
from chatactors.domain.models import ChangeKind, MessageType, Reaction
from chatactors.storage.memory import MemoryStore
from chatactors.storage.store import MessagePage
from tests.actors.events import drain
from tests.conftest import make_settings, running_registry

ALICE, BOB = UserId("alice"), UserId("bob")
TEXT = MessageType.TEXT


@pytest.fixture
def autojump(autojump_clock: trio.abc.Clock) -> trio.abc.Clock:
    return autojump_clock


async def test_a_message_older_than_the_window_is_changed_through_the_store(
    autojump: trio.abc.Clock,
) -> None:
    settings = make_settings(bot_enabled=False, history_window=2)
    async with running_registry(settings, MemoryStore()) as registry:
        chat = registry.chat((await registry.create_chat(["alice", "bob"])).id)
        first = await chat.post(ALICE, TEXT, "first")
        for n in range(3):
            await chat.post(BOB, TEXT, f"later {n}")
        edited = await chat.edit(ALICE, first.id, "first, edited")
        reacted = await chat.react(BOB, first.id, "👍")
        reply = await chat.post(BOB, TEXT, "re", reply_to=first.id)
        with pytest.raises(MessageNotFound):
            await chat.delete(ALICE, MessageId("nope"))
        [stored] = await chat.messages(MessagePage(limit=1, before_seq=2))
        assert registry.statistics().crashes == 0
    assert edited.content == "first, edited"
    assert reacted.reactions == (Reaction("👍", (BOB,)),)
    assert reply.reply_to == first.id
    assert stored == reacted


async def test_a_subscriber_resuming_after_a_reload_gets_each_change_once(
    autojump: trio.abc.Clock,
) -> None:
    store = MemoryStore()
    settings = make_settings(bot_enabled=False)
    async with running_registry(settings, store) as registry:
        chat_id = (await registry.create_chat(["alice", "bob"])).id
        chat = registry.chat(chat_id)
        first = await chat.post(ALICE, TEXT, "one")
        await chat.post(BOB, TEXT, "two")
        seen = (await chat.info()).last_pos
        await chat.edit(ALICE, first.id, "one!")
        await chat.react(BOB, first.id, "🎉")
        await chat.post(BOB, TEXT, "three")
        await chat.delete(ALICE, first.id)
    async with running_registry(settings, store) as registry:  # loaded afresh
        chat = registry.chat(chat_id)
        subscription = await chat.subscribe(after_pos=seen)
        await chat.react(BOB, (await chat.messages(MessagePage(limit=1)))[0].id, "👍")
        live = drain(subscription)
    replay = subscription.replay
    kinds = [
        (e.pos, e.change) if isinstance(e, MessageUpdated) else (e.message.pos, "new")
        for e in replay
    ]
    assert kinds == [(3, ChangeKind.EDITED), (4, ChangeKind.REACTION_ADDED), (5, "new"),
                     (6, ChangeKind.DELETED)]  # fmt: skip
    assert all(e.message.deleted for e in replay if e.message.id == first.id)
    assert subscription.latest_pos == 6
    [update] = [e for e in live if isinstance(e, MessageUpdated | MessageReceived)]
    assert isinstance(update, MessageUpdated)
    assert update.pos == 7
