"""Titles and members through the chat's actor: the store follows, a removed member's
subscriptions end right after the entry that removed them, and a reload keeps it all.

Policy: a real registry over the memory store, Trio's mock clock (``autojump_clock``); the
bot on where it matters (it must stay in every chat and not answer system messages).
"""

from __future__ import annotations

import pytest
import trio

from chatactors.actors.commands import Subscribe
from chatactors.actors.subscription import EndReason, Subscription
from chatactors.domain.errors import NotAParticipant
from chatactors.domain.events import (
    ChatEvent,
    ChatRead,
    ChatUpdated,
    MessageReceived,
    PresenceUpdated,
)
from chatactors.domain.ids import BOT_USER, UserId
from chatactors.domain.models import ChatChangeKind, ChatKind, MessageType
from chatactors.storage.memory import MemoryStore
from chatactors.storage.store import MessagePage
from tests.actors.events import drain
from tests.conftest import make_settings, running_registry

ALICE, BOB, CAROL, DAVE = UserId("alice"), UserId("bob"), UserId("carol"), UserId("dave")
TEXT = MessageType.TEXT


def kinds(events: list[ChatEvent]) -> list[type[ChatEvent]]:
    """The kinds of events, presence aside (subscribers coming online)."""
    return [type(e) for e in events if not isinstance(e, PresenceUpdated)]


@pytest.fixture
def autojump(autojump_clock: trio.abc.Clock) -> trio.abc.Clock:
    return autojump_clock


async def test_a_removed_members_subscriptions_end_after_the_entry_that_removed_them(
    autojump: trio.abc.Clock,
) -> None:
    async with running_registry(make_settings(bot_enabled=False)) as registry:
        chat = registry.chat((await registry.create_chat(["alice", "bob", "carol"])).id)
        bobs = [await chat.subscribe(BOB), await chat.subscribe(BOB)]
        alices = await chat.subscribe(ALICE)
        anonymous = await chat.subscribe()
        changed = await chat.remove_participant(ALICE, BOB)
        await chat.post(ALICE, TEXT, "after bob")
        for bob in bobs:
            assert kinds(drain(bob)) == [MessageReceived]  # the removal, nothing more
            assert bob.end_reason is EndReason.REMOVED
        for other in (alices, anonymous):
            assert kinds(drain(other)) == [MessageReceived, ChatUpdated, MessageReceived]
            assert other.end_reason is None
        assert changed.message is not None
        assert changed.info.chat.participants == (ALICE, CAROL, BOT_USER)
        for bob in bobs:
            await chat.unsubscribe(bob)  # as its socket does as it closes: harmless
        assert [p.user_id for p in await chat.presence()] == [ALICE, CAROL, BOT_USER]
        with pytest.raises(NotAParticipant):
            await chat.subscribe(BOB)
        assert registry.statistics().crashes == 0


async def test_a_remote_registration_of_a_removed_member_is_forgotten(
    autojump: trio.abc.Clock,
) -> None:
    async with running_registry(make_settings(bot_enabled=False)) as registry:
        chat_id = (await registry.create_chat(["alice", "bob", "carol"])).id
        chat = registry.chat(chat_id)
        reply = await registry.submit(chat_id, Subscribe(BOB, remote=True))
        registered = await reply.wait()
        assert isinstance(registered, Subscription)
        await chat.subscribe(ALICE)
        before = registry.statistics().subscribers
        await chat.remove_participant(BOB, BOB)
        assert registry.statistics().subscribers == before - 1
        await chat.unsubscribe(registered)  # arriving later from its node: harmless
        assert registry.statistics().subscribers == before - 1


async def test_the_store_follows_and_a_reload_keeps_title_members_and_history(
    autojump: trio.abc.Clock,
) -> None:
    store = MemoryStore()
    settings = make_settings(bot_enabled=False)
    async with running_registry(settings, store) as registry:
        created = await registry.create_chat(["alice", "bob"], title="Plans")
        assert (created.kind, created.created_by, created.title) == (ChatKind.GROUP, ALICE, "Plans")
        chat = registry.chat(created.id)
        await chat.post(BOB, TEXT, "hi")
        await chat.add_participants(BOB, (CAROL, DAVE))
        await chat.remove_participant(ALICE, DAVE)
        await chat.set_title(CAROL, "Plans 2")
        assert [s.chat.id for s in await registry.list_user_chats(CAROL)] == [created.id]
        assert await registry.list_user_chats(DAVE) == []
    async with running_registry(settings, store) as registry:  # loaded afresh
        chat = registry.chat(created.id)
        info = await chat.info()
        assert info.chat.participants == (ALICE, BOB, CAROL, BOT_USER)
        assert info.chat.title == "Plans 2"
        assert (info.last_seq, info.last_pos) == (4, 4)
        page = await chat.messages(MessagePage(limit=10), CAROL)
        assert [m.system.kind if m.system else None for m in page] == [
            None, ChatChangeKind.MEMBERS_ADDED, ChatChangeKind.MEMBER_REMOVED,
            ChatChangeKind.TITLE_CHANGED,
        ]  # fmt: skip
        marks = {mark.user_id: mark.seq for mark in await chat.read_marks()}
        assert marks[CAROL] == 2  # read up to the message that added her
        with pytest.raises(NotAParticipant):
            await chat.messages(MessagePage(limit=10), DAVE)
        [summary] = await registry.list_user_chats(CAROL)
        assert summary.unread_count == 1  # the removal, by alice (the title was her own)


async def test_two_people_make_a_one_to_one_chat_unless_it_is_a_group(
    autojump: trio.abc.Clock,
) -> None:
    async with running_registry(make_settings(bot_enabled=False)) as registry:
        direct = await registry.create_chat(["alice", "bob"])
        group = await registry.create_chat(["alice", "bob"], group=True)
        solo = await registry.create_chat(["alice"])
        three = await registry.create_chat(["carol", "alice", "bob"])
    assert [c.kind for c in (direct, group, solo, three)] == [
        ChatKind.DIRECT, ChatKind.GROUP, ChatKind.GROUP, ChatKind.GROUP,
    ]  # fmt: skip
    assert three.created_by == CAROL


async def test_the_bot_stays_and_does_not_answer_system_messages(
    autojump: trio.abc.Clock,
) -> None:
    settings = make_settings(bot_enabled=True, bot_delay_min_s=1, bot_delay_max_s=1)
    async with running_registry(settings) as registry:
        chat = registry.chat((await registry.create_chat(["alice", "bob", "carol"])).id)
        await chat.set_title(ALICE, "Team")
        await chat.add_participants(ALICE, (DAVE,))
        await chat.remove_participant(BOB, BOB)
        await trio.sleep(30)  # longer than any bot sequence
        page = await chat.messages(MessagePage(limit=10))
        assert all(m.user_id != BOT_USER for m in page)
        read = {mark.user_id: mark.seq for mark in await chat.read_marks()}
        assert read[BOT_USER] == 0  # it never even read them
        assert BOT_USER in (await chat.info()).chat.participants


async def test_added_members_read_marks_are_published(autojump: trio.abc.Clock) -> None:
    async with running_registry(make_settings(bot_enabled=False)) as registry:
        chat = registry.chat((await registry.create_chat(["alice", "bob", "carol"])).id)
        alices = await chat.subscribe(ALICE)
        changed = await chat.add_participants(BOB, (DAVE,))
        events = drain(alices)
    assert changed.message is not None
    assert events[-1] == ChatRead(chat.chat_id, DAVE, changed.message.id, changed.message.seq)
