"""Members removed, on a node's bus (two links, one real Redis): a removed user's subscribers
get the entry that removed them and nothing after it, on every node, also when that entry
arrives through a gap filled from the store; the others carry on.
"""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest
import trio

from chatactors.actors.subscription import EndReason
from chatactors.domain.events import ChatUpdated, MessageReceived
from chatactors.domain.ids import BOT_USER, ChatId, MessageId, UserId
from chatactors.domain.models import Chat, ChatChange, ChatChangeKind, Message, MessageType
from chatactors.storage.memory import MemoryStore
from chatactors.storage.store import ChatUpdate
from tests.cluster.test_bus import CHAT, message, node_bus, receive_events, seqs, started
from tests.redis_server import RedisServer

ANN, BOB = UserId("ann"), UserId("bob")
WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CHAT_NOW = Chat(CHAT, (ANN, BOB, BOT_USER), WHEN)
WITHOUT_BOB = attrs.evolve(CHAT_NOW, participants=(ANN, BOT_USER))
BOB_OUT = ChatChange(ChatChangeKind.MEMBER_REMOVED, ANN, (BOB,))


def removal(seq: int) -> MessageReceived:
    gone = Message(MessageId(f"m{seq}"), ChatId(CHAT), seq, ANN, MessageType.TEXT,
                   "ann removed bob", WHEN, pos=seq, system=BOB_OUT)  # fmt: skip
    return MessageReceived(gone)


async def test_a_removed_users_subscribers_end_after_the_entry_that_removed_them(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(10):
        async with node_bus(redis_server) as owner, node_bus(redis_server) as other:
            bobs = [await started(other, BOB), await started(other, BOB)]
            ann, anonymous = await started(other, ANN), await started(other)
            for event in (message(1), removal(2), ChatUpdated(WITHOUT_BOB, BOB_OUT), message(3)):
                await owner.publish(CHAT, event)
            for bob in bobs:
                assert await receive_events(bob, 2) == [message(1), removal(2)]
                with pytest.raises(trio.EndOfChannel):
                    await bob.receive()
                assert bob.end_reason is EndReason.REMOVED
            for kept in (ann, anonymous):
                events = await receive_events(kept, 4)
                assert events[2] == ChatUpdated(WITHOUT_BOB, BOB_OUT)
                assert seqs(events) == [1, 2, 3]
            assert other.bus.subscribers(CHAT) == 2
            assert other.bus.statistics().lagged == 0  # removed, not lagging


async def test_a_removal_that_came_through_a_gap_ends_the_subscriber_all_the_same(
    redis_server: RedisServer,
) -> None:
    store = MemoryStore()
    await store.create_chat(CHAT_NOW)
    loaded = await store.load_chat(CHAT, window=10, idempotency_window=10)
    assert loaded is not None
    await store.append_message(message(1).message, owner=loaded.owner_token)
    # Stored, never published (its owner died, or this node was cut off from Redis).
    await store.update_chat(ChatUpdate(WITHOUT_BOB, removal(2).message), owner=loaded.owner_token)
    await store.append_message(message(3).message, owner=loaded.owner_token)
    with trio.fail_after(10):
        async with (
            node_bus(redis_server) as owner,
            trio.open_nursery() as nursery,
            node_bus(redis_server, history=store, nursery=nursery) as other,
        ):
            bob, ann = await started(other, BOB), await started(other, ANN)
            await owner.publish(CHAT, message(1))
            await owner.publish(CHAT, message(3))  # 2, the removal, lost on the way
            assert seqs(await receive_events(ann, 3)) == [1, 2, 3]
            assert seqs(await receive_events(bob, 2)) == [1, 2]
            with pytest.raises(trio.EndOfChannel):
                await bob.receive()
            assert bob.end_reason is EndReason.REMOVED
            assert other.bus.statistics().filled == 2  # the removal, to each of the two
            nursery.cancel_scope.cancel()
