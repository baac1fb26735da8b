"""Several chats' subscriptions on one shared outbox (a user's socket): tagged, bounded."""

from __future__ import annotations

import trio

from chatactors.actors.subscription import ChatEnvelope, EndReason, SharedOutbox
from chatactors.domain.events import MessageReceived
from chatactors.domain.ids import UserId
from chatactors.domain.models import MessageType
from tests.conftest import make_settings, running_registry

ALICE = UserId("alice")
TEXT = MessageType.TEXT


async def test_chats_share_one_outbox_each_frame_tagged_with_its_chat() -> None:
    async with running_registry(make_settings()) as registry:
        chats = [registry.chat((await registry.create_chat(["alice"])).id) for _ in range(2)]
        send, receive = trio.open_memory_channel[ChatEnvelope](16)
        for chat in chats:
            await chat.subscribe(None, None, SharedOutbox(chat.chat_id, send.send_nowait))
        await chats[1].post(ALICE, TEXT, "to 1")
        await chats[0].post(ALICE, TEXT, "to 0")
        frames = [receive.receive_nowait() for _ in range(2)]
        assert [f.chat_id for f in frames] == [chats[1].chat_id, chats[0].chat_id]
        events = [f.envelope.event for f in frames]
        contents = [e.message.content for e in events if isinstance(e, MessageReceived)]
        assert contents == ["to 1", "to 0"]


async def test_a_full_shared_outbox_drops_the_subscription_and_says_why() -> None:
    async with running_registry(make_settings()) as registry:
        busy, quiet = [registry.chat((await registry.create_chat(["alice"])).id) for _ in "ab"]
        send, receive = trio.open_memory_channel[ChatEnvelope](2)
        ended: list[EndReason] = []
        subscriptions = []
        for chat in (busy, quiet):
            subscription = await chat.subscribe(
                None, None, SharedOutbox(chat.chat_id, send.send_nowait)
            )
            subscription.call_when_ended(ended.append)
            subscriptions.append(subscription)
        for n in range(3):
            await busy.post(ALICE, TEXT, f"{n}")
        assert ended == [EndReason.LAGGED]
        assert subscriptions[0].end_reason is EndReason.LAGGED
        assert subscriptions[1].end_reason is None  # the quiet chat still feeds the outbox
        assert registry.statistics().subscribers == 1
        # Once the owner closes the outbox, a chat's next send ends its subscription quietly.
        receive.close()
        await quiet.post(ALICE, TEXT, "after")
        assert subscriptions[1].end_reason is EndReason.UNSUBSCRIBED
        assert ended == [EndReason.LAGGED, EndReason.UNSUBSCRIBED]
