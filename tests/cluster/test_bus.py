"""ChatBus between two nodes (two links, one real Redis): each event once, to every subscriber,
in order; a lagging subscriber is dropped without slowing the others."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import attrs
import pytest
import trio

from chatactors.actors.subscription import EndReason, Subscription
from chatactors.cluster import codec
from chatactors.cluster.bus import ChatBus, History, chat_channel
from chatactors.cluster.directory import Holder
from chatactors.cluster.holders import HolderCache
from chatactors.cluster.node import open_cluster_link
from chatactors.cluster.redis import Channels, open_channels
from chatactors.domain.events import ChatEvent, ChatRead, MessageReceived, MessageUpdated
from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import ChangeKind, Chat, Message, MessageType, Reaction
from chatactors.storage.memory import MemoryStore
from chatactors.storage.store import MessageChange
from tests.cluster.conftest import LINK_TIMEOUT_S
from tests.redis_server import RedisServer

CHAT = ChatId("chat-b")
WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def message(seq: int, pos: int | None = None) -> MessageReceived:
    """Message ``seq``, at log position ``pos`` (``seq`` unless given: nothing changed)."""
    return MessageReceived(
        Message(
            MessageId(f"m{seq}"),
            CHAT,
            seq,
            UserId("ann"),
            MessageType.TEXT,
            f"#{seq}",
            WHEN,
            pos=seq if pos is None else pos,
        )
    )


#: Who publishes in these tests, as a chat's holder would.
OWNER = Holder("node-owner", 1)


@attrs.frozen
class NodeBus:
    """A node's bus, and its channels to publish on as the chat's owner does."""

    bus: ChatBus
    channels: Channels

    async def publish(self, chat_id: ChatId, event: ChatEvent) -> int:
        """Publish as the owner's ``EventOutbox`` does; how many nodes listen."""
        data = codec.encode_bus_event(event, OWNER)
        return await self.channels.publish(chat_channel(chat_id), data)


@asynccontextmanager
async def node_bus(
    redis_server: RedisServer,
    queue_size: int = 64,
    history: History | None = None,
    nursery: trio.Nursery | None = None,
) -> AsyncIterator[NodeBus]:
    async with (
        open_cluster_link(redis_server.url, timeout_s=LINK_TIMEOUT_S) as link,
        open_channels(link) as channels,
    ):
        yield NodeBus(ChatBus(channels, queue_size, history, nursery), channels)


async def started(node: NodeBus, user_id: UserId | None = None) -> Subscription:
    """A subscriber that has no message yet (as one registered at seq 0)."""
    subscription = await node.bus.subscribe(CHAT, user_id)
    node.bus.start(CHAT, subscription, 0)
    return subscription


async def receive_events(subscription: Subscription, count: int) -> list[ChatEvent]:
    return [(await subscription.receive()).event for _ in range(count)]


def seqs(events: list[ChatEvent]) -> list[int]:
    return [event.message.seq for event in events if isinstance(event, MessageReceived)]


async def test_events_reach_subscribers_on_every_node_once_and_in_order(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(10):
        async with node_bus(redis_server) as owner, node_bus(redis_server) as other:
            here = await started(owner, UserId("ann"))
            there = [await started(other) for _ in range(3)]
            events: list[ChatEvent] = [message(seq) for seq in range(1, 21)]
            events.append(ChatRead(CHAT, UserId("bob"), MessageId("m20"), 20))
            for event in events:
                # One publish per event, whatever the number of subscribers and nodes.
                assert await owner.publish(CHAT, event) == 2
            for subscription in [here, *there]:
                assert await receive_events(subscription, len(events)) == events
            assert other.bus.statistics().received == len(events)
            # Nothing more arrives: exactly once.
            for subscription in [here, *there]:
                with trio.move_on_after(0.2):
                    extra = await subscription.receive()
                    raise AssertionError(f"unexpected event {extra}")


async def test_a_lagging_subscriber_is_dropped_and_the_others_get_everything(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(10):
        async with (
            node_bus(redis_server, queue_size=4) as owner,
            node_bus(redis_server, queue_size=4) as other,
        ):
            slow = await started(other)
            fast = await started(other)
            received: list[int] = []

            async def read_fast() -> None:
                while len(received) < 30:
                    received.extend(seqs(await receive_events(fast, 1)))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(read_fast)
                for seq in range(1, 31):
                    await owner.publish(CHAT, message(seq))
            assert received == list(range(1, 31))
            assert slow.end_reason is EndReason.LAGGED
            assert other.bus.statistics().lagged == 1
            assert other.bus.subscribers(CHAT) == 1


async def test_the_last_local_subscriber_leaving_stops_listening(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(10):
        async with node_bus(redis_server) as owner, node_bus(redis_server) as other:
            first = await started(other)
            second = await started(other)
            assert await owner.publish(CHAT, message(1)) == 1  # one node, two sockets
            await other.bus.unsubscribe(CHAT, first)
            assert first.end_reason is EndReason.UNSUBSCRIBED
            assert await owner.publish(CHAT, message(2)) == 1
            assert seqs(await receive_events(second, 2)) == [1, 2]
            await other.bus.unsubscribe(CHAT, second)
            assert await owner.publish(CHAT, message(3)) == 0
            assert other.bus.subscribers(CHAT) == 0


async def test_events_wait_for_the_registration_then_skip_what_the_replay_covered(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(10):
        async with node_bus(redis_server) as owner, node_bus(redis_server) as other:
            subscription = await other.bus.subscribe(CHAT)
            # Published between listening and the owner's answer: held, not yet delivered.
            for seq in (3, 4):
                await owner.publish(CHAT, message(seq))
            with trio.move_on_after(0.2):
                await subscription.receive()
                raise AssertionError("delivered before start")
            other.bus.start(CHAT, subscription, 3)  # the replay ended at seq 3
            await owner.publish(CHAT, message(5))
            assert seqs(await receive_events(subscription, 2)) == [4, 5]
            await owner.publish(CHAT, message(4))  # late duplicate of what it has
            await owner.publish(CHAT, message(6))
            assert seqs(await receive_events(subscription, 1)) == [6]


async def test_a_gap_in_seq_ends_the_subscriber_so_that_it_resumes(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(10):
        async with node_bus(redis_server) as owner, node_bus(redis_server) as other:
            gapped = await started(other)
            await owner.publish(CHAT, message(1))
            await owner.publish(CHAT, message(3))  # 2 never came (its owner died first)
            assert seqs(await receive_events(gapped, 1)) == [1]
            with pytest.raises(trio.EndOfChannel):
                await gapped.receive()
            assert gapped.end_reason is EndReason.LAGGED
            assert other.bus.statistics().gaps == 1
            assert other.bus.subscribers(CHAT) == 0


async def test_a_gap_is_filled_from_the_store_and_the_subscriber_stays(
    redis_server: RedisServer,
) -> None:
    store = MemoryStore()
    await store.create_chat(Chat(CHAT, (UserId("ann"),), WHEN))
    loaded = await store.load_chat(CHAT, window=10, idempotency_window=10)
    assert loaded is not None
    for seq in range(1, 5):  # 2 and 3 stored by an owner that died before publishing them
        await store.append_message(message(seq).message, owner=loaded.owner_token)
    with trio.fail_after(10):
        async with (
            node_bus(redis_server) as owner,
            trio.open_nursery() as nursery,
            node_bus(redis_server, history=store, nursery=nursery) as other,
        ):
            subscription = await started(other)
            for seq in (1, 4, 5):
                await owner.publish(CHAT, message(seq))
            assert seqs(await receive_events(subscription, 5)) == [1, 2, 3, 4, 5]
            assert subscription.end_reason is None
            assert (other.bus.statistics().gaps, other.bus.statistics().filled) == (1, 2)
            nursery.cancel_scope.cancel()


async def test_a_gap_of_changes_is_filled_from_the_store_in_log_order(
    redis_server: RedisServer,
) -> None:
    """Positions count changes too: a change never published is a gap, filled with the
    message's state from the store, between the messages around it."""
    store = MemoryStore()
    await store.create_chat(Chat(CHAT, (UserId("ann"),), WHEN))
    loaded = await store.load_chat(CHAT, window=10, idempotency_window=10)
    assert loaded is not None
    first, second = message(1).message, message(2, pos=4).message
    await store.append_message(first, owner=loaded.owner_token)
    reacted = attrs.evolve(first, reactions=(Reaction("👍", (UserId("ann"),)),))
    edited = attrs.evolve(reacted, content="#1!", edited_at=WHEN)
    for pos, state, kind in [
        (2, reacted, ChangeKind.REACTION_ADDED),
        (3, edited, ChangeKind.EDITED),
    ]:
        await store.change_message(MessageChange(state, pos, kind, 1), owner=loaded.owner_token)
    await store.append_message(second, owner=loaded.owner_token)
    with trio.fail_after(10):
        async with (
            node_bus(redis_server) as owner,
            trio.open_nursery() as nursery,
            node_bus(redis_server, history=store, nursery=nursery) as other,
        ):
            subscription = await started(other)
            await owner.publish(CHAT, MessageReceived(first))
            await owner.publish(CHAT, MessageUpdated(edited, 3, ChangeKind.EDITED))  # 2 lost
            await owner.publish(CHAT, MessageReceived(second))
            events = await receive_events(subscription, 4)
            nursery.cancel_scope.cancel()
    assert events == [
        MessageReceived(first),
        MessageUpdated(edited, 2, ChangeKind.REACTION_ADDED),  # its state now, from the store
        MessageUpdated(edited, 3, ChangeKind.EDITED),
        MessageReceived(second),
    ]
    assert (other.bus.statistics().gaps, other.bus.statistics().filled) == (1, 1)


async def test_every_message_teaches_the_holder_cache_who_holds_the_chat(
    redis_server: RedisServer,
) -> None:
    holders = HolderCache("node-other", ttl_s=30)
    with trio.fail_after(10):
        async with (
            node_bus(redis_server) as owner,
            open_cluster_link(redis_server.url, timeout_s=LINK_TIMEOUT_S) as link,
            open_channels(link) as channels,
        ):
            other = NodeBus(ChatBus(channels, 64, holders=holders), channels)
            subscription = await started(other)
            assert holders.peek(CHAT, trio.current_time()) is None
            await owner.publish(CHAT, message(1))
            await receive_events(subscription, 1)
            # A busy chat's holder is known without a lookup (an owner publishes only while
            # its lease is valid).
            assert holders.peek(CHAT, trio.current_time()) == OWNER
