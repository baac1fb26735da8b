"""An owner's activation publishes every event its actor queued, in order, even when the actor
stops with several still queued (they go out in one batch, and the release waits for them)."""

from __future__ import annotations

import trio
import trio.testing

from chatactors.cluster.directory import Directory
from chatactors.cluster.placement import LeasePlacement
from chatactors.cluster.redis import Channels
from tests.cluster.test_bus import CHAT, message, node_bus, receive_events, seqs, started
from tests.redis_server import RedisServer


async def test_events_queued_when_the_actor_stops_are_all_published_in_order(
    redis_server: RedisServer, directory: Directory, channels: Channels
) -> None:
    placement = LeasePlacement(directory, channels.publisher, "node-a")
    async with node_bus(redis_server) as other_node:
        subscription = await started(other_node)
        activation = await placement.activate(CHAT)
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(activation.keep)  # must end without an error
                await trio.testing.wait_all_tasks_blocked()
                for seq in range(1, 6):
                    activation.publish(message(seq))
                await activation.release()
            assert seqs(await receive_events(subscription, 5)) == [1, 2, 3, 4, 5]
    assert (placement.statistics().published, placement.statistics().withheld) == (5, 0)
