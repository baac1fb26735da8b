"""Forwarding between two in-process nodes, each with its own registry, against one real Redis:
a command sent on node B for a chat node A holds gets the same answers and errors as on A."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest
import trio

from chatactors.actors.commands import Command, GetChat, GetMessages, PostMessage, SetPresence
from chatactors.actors.handle import ChatHandle
from chatactors.actors.registry import ChatRegistry
from chatactors.cluster.errors import ClusterUnavailable
from chatactors.cluster.forwarder import command_channel
from chatactors.cluster.node import ClusterNode
from chatactors.domain.errors import ChatNotFound, ChatUnavailable, NotAParticipant, OutcomeUnknown
from chatactors.domain.ids import ChatId, UserId
from chatactors.domain.models import MessageType, PresenceStatus
from chatactors.storage.memory import MemoryStore
from chatactors.storage.store import MessagePage
from tests.cluster.conftest import once_redis_answers
from tests.cluster.in_process import call, open_node
from tests.redis_server import RedisServer

R = TypeVar("R")
ANN, BOB, EVE = UserId("ann"), UserId("bob"), UserId("eve")


async def call_local(registry: ChatRegistry, chat_id: ChatId, command: Command[R]) -> R:
    return await (await registry.submit(chat_id, command)).wait()


@asynccontextmanager
async def node(
    redis_server: RedisServer, node_id: str, **overrides: Any
) -> AsyncIterator[tuple[ClusterNode, ChatRegistry]]:
    async with open_node(redis_server, node_id, MemoryStore(), **overrides) as cluster_node:
        yield cluster_node, cluster_node.registry


@asynccontextmanager
async def two_nodes(
    redis_server: RedisServer,
) -> AsyncIterator[tuple[ClusterNode, ChatRegistry, ClusterNode, ChatId]]:
    """Node A holds a chat of ann and bob; node B holds nothing (both on one store)."""
    store = MemoryStore()
    async with (
        open_node(redis_server, "node-a", store) as a,
        open_node(redis_server, "node-b", store) as b,
    ):
        await a.link.execute("FLUSHALL")
        chat = await a.registry.create_chat([ANN, BOB])
        await a.directory.claim(chat.id, "node-a")
        yield a, a.registry, b, chat.id


async def test_replies_through_another_node_equal_the_local_ones(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(20):
        async with two_nodes(redis_server) as (a, registry_a, b, chat_id):
            post = PostMessage(ANN, MessageType.TEXT, "hello from B", "cid-1")
            sent = await call(b, chat_id, post)
            assert (sent.seq, sent.content, sent.user_id) == (1, "hello from B", ANN)
            # The same command again is idempotent on the owner, as locally.
            assert await call(b, chat_id, post) == sent
            page = GetMessages(MessagePage(limit=50))
            remote = await call(b, chat_id, page)
            local = await call_local(registry_a, chat_id, page)
            assert remote == local == [sent]
            presence = await (
                await b.mailbox.submit(chat_id, SetPresence(BOB, PresenceStatus.TYPING))
            ).wait()
            assert presence.status is PresenceStatus.TYPING
            info = await call(b, chat_id, GetChat())
            assert info == await call_local(registry_a, chat_id, GetChat())
            assert b.forwarder.statistics().forwarded == 5
            assert a.forwarder.statistics().forwarded == 0  # A's own commands stay local


async def test_errors_through_another_node_equal_the_local_ones(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(20):
        async with two_nodes(redis_server) as (a, registry_a, b, chat_id):
            outsider = PostMessage(EVE, MessageType.TEXT, "let me in")
            with pytest.raises(NotAParticipant) as local:
                await call_local(registry_a, chat_id, outsider)
            with pytest.raises(NotAParticipant) as remote:
                await call(b, chat_id, outsider)
            assert str(remote.value) == str(local.value)
            missing = ChatId("no-such-chat")
            await a.directory.claim(missing, "node-a")
            with pytest.raises(ChatNotFound) as not_found:
                await call(b, missing, GetChat())
            assert str(not_found.value) == str(ChatNotFound(missing))


async def test_pipelined_commands_keep_their_order(redis_server: RedisServer) -> None:
    with trio.fail_after(20):
        async with two_nodes(redis_server) as (_, _registry_a, b, chat_id):
            replies = [
                await b.mailbox.submit(chat_id, PostMessage(BOB, MessageType.TEXT, f"#{n}"))
                for n in range(30)
            ]
            messages = [await reply.wait() for reply in replies]
            assert [m.content for m in messages] == [f"#{n}" for n in range(30)]
            assert [m.seq for m in messages] == list(range(1, 31))


async def test_a_node_that_is_gone_or_silent_fails_the_call_instead_of_hanging(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(20):
        async with node(redis_server, "node-b", command_timeout_s=0.5) as (b, _):
            await b.link.execute("FLUSHALL")
            chat_id = ChatId("held-elsewhere")
            await b.directory.claim(chat_id, "node-gone")
            with pytest.raises(ChatUnavailable):
                await b.mailbox.submit(chat_id, GetChat())
            # A node that listens but never answers (paused, or lost the message).
            await b.channels.listen(command_channel("node-mute"), lambda data: None)
            reply = await b.forwarder.submit_to("node-mute", chat_id, GetChat())
            with pytest.raises(ChatUnavailable, match="did not answer"):
                await reply.wait()
            # A send nobody answered may have run there: not "nothing changed".
            send = PostMessage(BOB, MessageType.TEXT, "hi", client_message_id="c-1")
            sent = await b.forwarder.submit_to("node-mute", chat_id, send)
            with pytest.raises(OutcomeUnknown, match="retry with the same client_message_id"):
                await sent.wait()
            assert b.forwarder.statistics().timed_out == 2


async def test_redis_down_answers_unavailable_fast_and_recovers(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(30):
        async with two_nodes(redis_server) as (a, _registry_a, b, chat_id):
            await call(a, chat_id, GetChat())  # A activates it: its keeper knows the lease
            assert a.registry.holds(chat_id)
            redis_server.stop()
            try:
                # The holder keeps serving its own chat without Redis...
                assert (await call(a, chat_id, GetChat())).chat.id == chat_id
                # ...while anything that needs the directory fails fast.
                with pytest.raises(ClusterUnavailable):
                    await b.mailbox.submit(chat_id, GetChat())
                with pytest.raises(ClusterUnavailable):
                    await b.bus.subscribe(chat_id)
            finally:
                redis_server.start()
            # Redis restarted empty: A claims its chat again, and B reaches it once the
            # nodes' subscriptions are back (each node subscribes again by itself).
            # (A's link knows Redis was down: it answers again at its next probe.)
            await once_redis_answers(lambda: a.directory.claim(chat_id, "node-a"))
            post = PostMessage(ANN, MessageType.TEXT, "after the outage")
            while True:
                try:
                    reply = await b.mailbox.submit(chat_id, post)
                    break
                except ChatUnavailable:
                    await trio.sleep(0.05)  # A is not subscribed again yet
            assert (await reply.wait()).content == "after the outage"


async def test_a_chat_handle_over_the_cluster_mailbox_reaches_the_holder(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(20):
        async with two_nodes(redis_server) as (_, registry_a, b, chat_id):
            handle = ChatHandle(chat_id, b.mailbox)
            sent = await handle.post(BOB, MessageType.TEXT, "via a handle on B")
            assert await registry_a.chat(chat_id).messages(MessagePage(limit=10)) == [sent]
            with pytest.raises(NotAParticipant):
                await handle.mark_read(EVE)
