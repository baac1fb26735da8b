"""A user's socket on one node, fed by chats owned by another, through the bus: its chats share
one outbox, each event tagged with its chat, once and in order per chat."""

from __future__ import annotations

import trio

from chatactors.actors.subscription import ChatEnvelope, SharedOutbox
from chatactors.domain.events import MessageReceived
from chatactors.domain.ids import ChatId
from tests.cluster.test_bus import message, node_bus
from tests.redis_server import RedisServer

CHATS = (ChatId("chat-b"), ChatId("chat-c"))


async def test_a_user_sockets_chats_share_one_outbox_across_nodes(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(10):
        async with node_bus(redis_server) as owner, node_bus(redis_server) as other:
            send, receive = trio.open_memory_channel[ChatEnvelope](64)
            for chat_id in CHATS:
                outbox = SharedOutbox(chat_id, send.send_nowait)
                other.bus.start(chat_id, await other.bus.subscribe(chat_id, None, outbox), 0)
            for seq in range(1, 6):
                for chat_id in CHATS:
                    assert await owner.publish(chat_id, message(seq)) == 1
            got: dict[ChatId, list[int]] = {chat_id: [] for chat_id in CHATS}
            for _ in range(10):
                item = await receive.receive()
                assert isinstance(item.envelope.event, MessageReceived)
                got[item.chat_id].append(item.envelope.event.message.seq)
            assert got == {chat_id: [1, 2, 3, 4, 5] for chat_id in CHATS}
            with trio.move_on_after(0.2):
                extra = await receive.receive()
                raise AssertionError(f"unexpected event {extra}")
