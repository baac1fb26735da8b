"""A chat's owner changing under in-process nodes with leases (``LeasePlacement``), one real
Redis and one shared store: the holder cache, re-routing from a node that no longer holds the
chat, and sockets registered again with each new owner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import trio

from chatactors.actors.commands import (
    GetChat,
    GetMessages,
    GetPresence,
    PostMessage,
    Subscribe,
    Unsubscribe,
)
from chatactors.actors.registry import ChatRegistry
from chatactors.actors.subscription import Subscription
from chatactors.cluster.directory import Holder, lease_key
from chatactors.cluster.forwarder import command_channel
from chatactors.cluster.node import ClusterNode
from chatactors.domain.events import MessageReceived, PresenceUpdated
from chatactors.domain.ids import ChatId, UserId
from chatactors.domain.models import MessageType, PresenceStatus
from chatactors.storage.memory import MemoryStore
from chatactors.storage.store import MessagePage
from tests.cluster.in_process import call, open_node
from tests.harness.waiting import wait_until_async
from tests.redis_server import RedisServer

ANN, BOB = UserId("ann"), UserId("bob")


@asynccontextmanager
async def placed_nodes(
    redis_server: RedisServer, names: tuple[str, ...], **overrides: Any
) -> AsyncIterator[dict[str, tuple[ClusterNode, ChatRegistry]]]:
    """One node per name, each with a registry that activates chats through leases, as
    serving does (web/lifespan.py), all on one store."""
    store = MemoryStore()
    # presence_grace_s=0: offline at once, these tests are about owners.
    overrides = {"presence_grace_s": 0, **overrides}
    async with AsyncExitStack() as stack:
        nodes: dict[str, tuple[ClusterNode, ChatRegistry]] = {}
        for name in names:
            node = await stack.enter_async_context(
                open_node(redis_server, f"node-{name}", store, **overrides)
            )
            nodes[name] = (node, node.registry)
        first = nodes[names[0]][0]
        await first.link.execute("FLUSHALL")
        yield nodes


async def presence(node: ClusterNode, chat_id: ChatId) -> dict[str, PresenceStatus]:
    return {p.user_id: p.status for p in await call(node, chat_id, GetPresence())}


async def lose_lease(node: ClusterNode, registry: ChatRegistry, chat_id: ChatId) -> None:
    """Take the chat from ``node`` as Redis forgetting its lease would: its next renewal fails
    and its actor stops."""
    await node.link.execute("DEL", lease_key(chat_id))
    # Its keeper finds out in its own time.
    await wait_until_async(lambda: not registry.holds(chat_id), 30, "the node let the chat go")


async def reregistered(node: ClusterNode, count: int, *, failures: int = 0) -> None:
    sockets = node.mailbox.sockets
    await wait_until_async(
        lambda: (
            sockets.statistics().reregistered >= count
            and sockets.statistics().reregister_failures >= failures
        ),
        30,
        f"{count} sockets reregistered after {failures} failures",
    )


async def test_a_cached_holder_is_used_without_asking_the_directory(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(20):
        async with placed_nodes(redis_server, ("a", "b")) as nodes:
            (a, registry_a), (b, registry_b) = nodes["a"], nodes["b"]
            chat_id = (await registry_a.create_chat([ANN, BOB])).id
            await call(a, chat_id, GetChat())  # A activates it
            await call(b, chat_id, GetChat())
            assert (b.holders.statistics().hits, b.holders.statistics().misses) == (0, 1)
            # Without its lease in Redis, a lookup would say nobody holds the chat and B would
            # activate it; the cached holder sends the command to A instead.
            await b.link.execute("DEL", lease_key(chat_id))
            assert (await call(b, chat_id, GetChat())).chat.id == chat_id
            assert (b.holders.statistics().hits, b.holders.statistics().misses) == (1, 1)
            assert b.forwarder.statistics().forwarded == 2
            assert registry_b.statistics().activations == 0


async def test_a_stale_holder_answers_chat_elsewhere_and_the_command_runs_once_at_the_holder(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(20):
        async with placed_nodes(redis_server, ("a", "b", "c")) as nodes:
            (a, registry_a), (b, _), (c, registry_c) = nodes["a"], nodes["b"], nodes["c"]
            chat_id = (await registry_a.create_chat([ANN, BOB])).id
            await call(c, chat_id, GetChat())  # C holds it
            # B believes A holds it (as after A lost it): A answers ChatElsewhere without
            # running the post, and B sends it on to C.
            b.holders.learn(chat_id, Holder("node-a", 1), trio.current_time())
            post = PostMessage(ANN, MessageType.TEXT, "once")
            sent = await call(b, chat_id, post)
            assert (sent.seq, sent.content) == (1, "once")
            assert b.forwarder.statistics().rerouted == 1
            assert a.placement.statistics().claims_refused == 1
            assert not registry_a.holds(chat_id)
            assert registry_c.holds(chat_id)
            assert await call(c, chat_id, GetMessages(MessagePage(limit=10))) == [sent]
            cached = b.holders.get(chat_id, trio.current_time())
            assert cached is not None
            assert cached.node_id == "node-c"


async def test_a_cached_holder_that_is_gone_costs_a_lookup_not_an_error(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(20):
        async with placed_nodes(redis_server, ("a", "b")) as nodes:
            (a, registry_a), (b, _) = nodes["a"], nodes["b"]
            chat_id = (await registry_a.create_chat([ANN, BOB])).id
            await call(a, chat_id, GetChat())
            b.holders.learn(chat_id, Holder("node-gone", 1), trio.current_time())
            assert (await call(b, chat_id, GetChat())).chat.id == chat_id
            cached = b.holders.get(chat_id, trio.current_time())
            assert cached is not None
            assert cached.node_id == "node-a"


async def test_a_socket_is_registered_again_with_each_new_owner(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(30):
        async with placed_nodes(redis_server, ("a", "b", "c"), lease_ttl_s=1.0) as nodes:
            (a, registry_a), (b, registry_b), (c, registry_c) = (nodes[n] for n in "abc")
            chat_id = (await registry_a.create_chat([ANN, BOB])).id
            await call(a, chat_id, GetChat())
            ann = await call(b, chat_id, Subscribe(ANN))
            assert (await presence(a, chat_id))[ANN] is PresenceStatus.ONLINE
            # A loses the chat; C activates it and announces itself; B registers ann there.
            await lose_lease(a, registry_a, chat_id)
            await call(c, chat_id, GetChat())
            await reregistered(b, 1)
            assert (await presence(c, chat_id))[ANN] is PresenceStatus.ONLINE
            # Again: now B itself activates it, and registers ann in its own actor.
            await lose_lease(c, registry_c, chat_id)
            b.holders.forget(chat_id)  # (else B would forward to C, which would take it again)
            await call(b, chat_id, GetChat())
            assert registry_b.holds(chat_id)
            await reregistered(b, 2)
            assert (await presence(b, chat_id))[ANN] is PresenceStatus.ONLINE
            # The socket's Unsubscribe reaches the owner it is registered with now.
            await call(b, chat_id, Unsubscribe(ann.id))
            assert (await presence(b, chat_id))[ANN] is PresenceStatus.OFFLINE
            assert ann.end_reason is not None


async def test_a_socket_is_registered_again_once_the_new_owner_can_be_reached(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(30):
        async with placed_nodes(redis_server, ("a", "b", "c"), lease_ttl_s=1.0) as nodes:
            (a, registry_a), (b, _), (c, _) = (nodes[n] for n in "abc")
            chat_id = (await registry_a.create_chat([ANN, BOB])).id
            await call(a, chat_id, GetChat())
            await call(b, chat_id, Subscribe(ANN))
            await lose_lease(a, registry_a, chat_id)
            # C takes the chat while nobody can forward to it (as if Redis dropped its
            # subscriptions): B's attempts fail, and B keeps trying without failing anything.
            server = c.server
            await c.channels.unlisten(command_channel("node-c"))
            await call(c, chat_id, GetChat())
            await reregistered(b, 0, failures=2)

            # C took ann over online from A, for a catch-up of a lease: her registration never
            # reaches C meanwhile, so she goes offline when it runs out.
            async def ann_offline() -> bool:
                return (await presence(c, chat_id))[ANN] is PresenceStatus.OFFLINE

            await wait_until_async(ann_offline, 30, "ann went offline at C")
            await c.channels.listen(command_channel("node-c"), server.on_command)
            await reregistered(b, 1)
            assert (await presence(c, chat_id))[ANN] is PresenceStatus.ONLINE


async def test_a_socket_at_the_owner_gets_its_events_from_the_actor_not_over_redis(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(20):
        async with placed_nodes(redis_server, ("a", "b")) as nodes:
            (a, registry_a), (b, _) = nodes["a"], nodes["b"]
            chat_id = (await registry_a.create_chat([ANN, BOB])).id
            # Nobody holds the chat: ann's socket on A activates it there and subscribes at
            # the actor itself; bob's on B listens on the bus and registers at A.
            ann = await call(a, chat_id, Subscribe(ANN, after_seq=0))
            assert registry_a.holds(chat_id)
            assert a.bus.subscribers(chat_id) == 0
            bob = await call(b, chat_id, Subscribe(BOB, after_seq=0))
            assert b.bus.subscribers(chat_id) == 1
            sent = await call(b, chat_id, PostMessage(BOB, MessageType.TEXT, "hi"))
            for subscription in (ann, bob):
                while True:  # presence events first (each one's own online, the other's)
                    event = (await subscription.receive()).event
                    if isinstance(event, MessageReceived):
                        assert event.message == sent
                        break
            assert a.bus.statistics().received == 0  # A never heard its own events back from Redis
            # The owner loses the chat: ann's socket ends with its actor; bob's stays.
            await lose_lease(a, registry_a, chat_id)
            # The lease is known lost first; the actor then stops and ends its subscribers.
            # Ended inside the actor's task.
            await wait_until_async(lambda: ann.end_reason is not None, 20, "ann's socket ended")
            assert bob.end_reason is None
            await call(a, chat_id, Unsubscribe(ann.id))  # answered, changes nothing


async def next_presence(subscription: Subscription) -> tuple[str, PresenceStatus]:
    while True:
        event = (await subscription.receive()).event
        if isinstance(event, PresenceUpdated):
            return event.presence.user_id, event.presence.status


async def test_a_new_owner_takes_over_who_was_online_and_publishes_no_flicker(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(30):
        async with placed_nodes(redis_server, ("a", "b", "c"), lease_ttl_s=1.0) as nodes:
            (a, registry_a), (b, _), (c, _) = (nodes[n] for n in "abc")
            chat_id = (await registry_a.create_chat([ANN, BOB])).id
            # bob's socket is at A's own actor (it dies with A's activation); ann's is on B.
            bob = await call(a, chat_id, Subscribe(BOB))
            ann = await call(b, chat_id, Subscribe(ANN))
            while await next_presence(ann) != (ANN, PresenceStatus.ONLINE):  # (bob's may be first)
                pass
            await lose_lease(a, registry_a, chat_id)
            # Ended inside the actor's task.
            await wait_until_async(lambda: bob.end_reason is not None, 30, "bob's socket ended")
            await call(c, chat_id, GetChat())  # C takes the chat over
            assert c.placement.statistics().handovers == 1
            await reregistered(b, 1)
            # Both online at C at once: ann registered again, bob for the catch-up (a lease).
            assert await presence(c, chat_id) == {
                ANN: PresenceStatus.ONLINE,
                BOB: PresenceStatus.ONLINE,
                "bot_user": PresenceStatus.OFFLINE,
            }
            # bob's socket never comes back: he goes offline when it runs out; ann's socket
            # hears nothing of herself (no offline, no second online).
            assert await next_presence(ann) == (BOB, PresenceStatus.OFFLINE)
            assert (await presence(c, chat_id))[ANN] is PresenceStatus.ONLINE


async def test_sockets_whose_owner_is_gone_take_the_chat_over_though_nobody_uses_it(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(30):
        async with placed_nodes(redis_server, ("a", "b"), lease_ttl_s=1.0) as nodes:
            (a, registry_a), (b, registry_b) = nodes["a"], nodes["b"]
            chat_id = (await registry_a.create_chat([ANN, BOB])).id
            await call(a, chat_id, GetChat())
            await call(b, chat_id, Subscribe(ANN))
            # A "dies": nobody listens at it any more, and its lease goes. No command follows.
            await a.channels.unlisten(command_channel("node-a"))
            await lose_lease(a, registry_a, chat_id)
            # B notices and registers ann again, which activates the chat on B.
            await reregistered(b, 1)
            assert registry_b.holds(chat_id)
            assert b.mailbox.sockets.statistics().orphaned == 1
            assert (await presence(b, chat_id))[ANN] is PresenceStatus.ONLINE


async def test_an_owner_that_only_looked_gone_keeps_its_sockets_once(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(30):
        async with placed_nodes(redis_server, ("a", "b"), lease_ttl_s=1.0) as nodes:
            (a, registry_a), (b, _) = nodes["a"], nodes["b"]
            chat_id = (await registry_a.create_chat([ANN, BOB])).id
            await call(a, chat_id, GetChat())
            await call(b, chat_id, Subscribe(ANN))
            server = a.server
            # A's Pub/Sub connection is being made again (say): it looks gone for a while.
            await a.channels.unlisten(command_channel("node-a"))
            watch = b.owner_watch
            await wait_until_async(  # B's watch runs on its own
                lambda: watch.statistics().owners_gone > 0, 30, "B saw A's node gone"
            )
            await reregistered(b, 0, failures=1)
            await a.channels.listen(command_channel("node-a"), server.on_command)
            await wait_until_async(  # retried on B's own time
                lambda: not b.mailbox.sockets.statistics().reregistering,
                30,
                "B stopped reregistering",
            )
            assert b.mailbox.sockets.owner_nodes() == {"node-a"}
            # Still A's, ann registered there once (the second registration was undone).
            assert registry_a.holds(chat_id)
            assert b.mailbox.sockets.statistics().reregistered == 0
            assert registry_a.statistics().subscribers == 1
            assert (await presence(a, chat_id))[ANN] is PresenceStatus.ONLINE
