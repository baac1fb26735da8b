"""ChatCreations between two nodes (two links, one real Redis): a chat created on either node is
announced once to its participants' feeds on both; with Redis hung, it is still created and
announced on its own node."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import trio

from chatactors.actors.user_feeds import ChatAdded, UserFeeds
from chatactors.cluster.chat_creations import ChatCreations
from chatactors.cluster.node import open_cluster_link
from chatactors.cluster.redis import open_channels
from chatactors.domain.ids import ChatId, UserId
from chatactors.domain.models import Chat
from tests.cluster.conftest import LINK_TIMEOUT_S
from tests.redis_server import RedisServer

ANN = UserId("ann")


def chat(n: int, *participants: str) -> Chat:
    users = tuple(UserId(user) for user in participants)
    return Chat(ChatId(f"c{n}"), users, datetime(2026, 11, 30, 12, n, tzinfo=UTC))


@asynccontextmanager
async def node_feeds(
    redis_server: RedisServer, node_id: str
) -> AsyncIterator[tuple[UserFeeds, ChatCreations]]:
    async with (
        open_cluster_link(redis_server.url, timeout_s=LINK_TIMEOUT_S) as link,
        open_channels(link) as channels,
    ):
        creations = ChatCreations(node_id, channels)
        await creations.listen()
        yield creations.feeds, creations


async def test_a_chat_created_on_one_node_is_announced_once_on_each(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(10):
        async with (
            node_feeds(redis_server, "n1") as (feeds1, creations1),
            node_feeds(redis_server, "n2") as (feeds2, creations2),
        ):
            send1, receive1 = trio.open_memory_channel[ChatAdded](8)
            send2, receive2 = trio.open_memory_channel[ChatAdded](8)
            with (
                feeds1.open_feed(ANN, send1.send_nowait, lambda reason: None),
                feeds2.open_feed(ANN, send2.send_nowait, lambda reason: None),
            ):
                await feeds1.created(chat(1, "ann", "bob"))
                await feeds1.created(chat(2, "bob", "cid"))  # not ann's
                await feeds2.created(chat(3, "cid", "ann"))
                # n2's own chat 3 reached n1 after n1's own publications came back to it (one
                # Redis, published one after the other): so n1 holds all it will ever hold.
                assert (await receive1.receive()).chat.id == "c1"
                assert (await receive1.receive()).chat.id == "c3"
                assert (await receive2.receive()).chat.id == "c1"
                assert (await receive2.receive()).chat.id == "c3"
                assert receive1.statistics().current_buffer_used == 0
            assert (creations1.statistics().published, creations1.statistics().received) == (2, 1)
            assert (creations2.statistics().published, creations2.statistics().received) == (1, 2)


async def test_with_redis_hung_a_chat_is_announced_on_its_own_node_only(
    redis_server: RedisServer,
) -> None:
    with trio.fail_after(20):
        async with node_feeds(redis_server, "n1") as (feeds, creations):
            send, receive = trio.open_memory_channel[ChatAdded](8)
            with feeds.open_feed(ANN, send.send_nowait, lambda reason: None):
                redis_server.pause()  # hung: the publish gives up after the link's bound
                try:
                    await feeds.created(chat(1, "ann", "bob"))
                finally:
                    redis_server.resume()
                assert receive.receive_nowait().chat.id == "c1"
            assert (creations.statistics().published, creations.statistics().unpublished) == (0, 1)
