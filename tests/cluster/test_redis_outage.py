"""Redis stopped or hung: every cluster operation fails fast with ClusterUnavailable (503 +
Retry-After in the web layer), nothing hangs, and everything works again once Redis is back."""

from __future__ import annotations

import pytest
import trio

from chatactors.cluster.bus import ChatBus
from chatactors.cluster.directory import Directory
from chatactors.cluster.errors import ClusterUnavailable
from chatactors.cluster.node import open_cluster_link
from chatactors.cluster.redis import RedisLink, open_channels
from chatactors.domain.errors import ChatUnavailable
from chatactors.domain.events import ChatEvent
from chatactors.domain.ids import ChatId, UserId
from chatactors.domain.models import PresenceStatus
from tests.cluster.conftest import LINK_TIMEOUT_S, once_redis_answers
from tests.cluster.test_bus import NodeBus
from tests.harness.waiting import wait_until_async
from tests.redis_server import RedisServer

CHAT = ChatId("chat-o")


def test_the_typed_error_is_a_503_with_retry_after() -> None:
    error = ClusterUnavailable()
    assert isinstance(error, ChatUnavailable)  # the web layer's 503 (Retry-After) mapping
    assert error.retry_after_s > 0


async def test_a_hung_redis_bounds_every_operation(
    redis_server: RedisServer, link: RedisLink, directory: Directory
) -> None:
    lease = await directory.claim(CHAT, "node-a")
    redis_server.pause()
    try:
        # Each operation gives up after the link's bound; the test's own bound catches a hang.
        with trio.fail_after(LINK_TIMEOUT_S * 10):
            with pytest.raises(ClusterUnavailable):
                await directory.renew(lease)
            with pytest.raises(ClusterUnavailable):
                await directory.holder(CHAT)
            with pytest.raises(ClusterUnavailable):
                await directory.claim(ChatId("other"), "node-a")
    finally:
        redis_server.resume()
    assert await once_redis_answers(lambda: directory.renew(lease))
    # The first timed out; the others failed at once (Redis known down), connecting to nothing.
    assert link.statistics().failures >= 1
    assert link.statistics().fast_failures >= 2


async def test_opening_a_node_while_redis_is_down_fails_fast(redis_server: RedisServer) -> None:
    redis_server.stop()
    try:
        with trio.fail_after(10), pytest.raises(ClusterUnavailable):
            async with (
                open_cluster_link(redis_server.url, timeout_s=LINK_TIMEOUT_S) as link,
                open_channels(link),
            ):
                pass
    finally:
        redis_server.start()


async def test_the_bus_listens_again_after_a_redis_restart(redis_server: RedisServer) -> None:
    from datetime import UTC, datetime

    from chatactors.domain.events import PresenceUpdated
    from chatactors.domain.models import Presence

    event = PresenceUpdated(Presence(UserId("ann"), PresenceStatus.ONLINE, datetime.now(UTC)))
    with trio.fail_after(30):
        async with (
            open_cluster_link(redis_server.url, timeout_s=LINK_TIMEOUT_S) as link,
            open_channels(link) as channels,
        ):
            node = NodeBus(ChatBus(channels, queue_size=16), channels)
            subscription = await node.bus.subscribe(CHAT)
            node.bus.start(CHAT, subscription, 0)
            redis_server.stop()
            try:
                with pytest.raises(ClusterUnavailable):
                    await node.publish(CHAT, event)
            finally:
                redis_server.start()

            # Pub/Sub keeps nothing while down; once the node has subscribed again, events flow.
            async def delivered() -> bool:
                return await _publish_when_up(node, event) > 0

            await wait_until_async(delivered, 30, "the bus subscribed again")
            assert (await subscription.receive()).event == event


async def _publish_when_up(node: NodeBus, event: ChatEvent) -> int:
    try:
        return await node.publish(CHAT, event)
    except ClusterUnavailable:
        return 0
