"""LeaseKeepers against a real Redis (real clock, short TTLs, every wait bounded)."""

from __future__ import annotations

import trio

from chatactors.cluster.directory import Directory, Holder
from chatactors.cluster.errors import LeaseLost
from chatactors.cluster.keeper import LeaseKeeper, LeaseKeepers
from chatactors.cluster.redis import RedisLink
from chatactors.domain.ids import ChatId
from tests.redis_server import RedisServer

CHAT = ChatId("chat-k")
#: Short enough that a test sees several renewals, long enough for a loaded machine.
TTL_S = 0.6


async def _claim(directory: Directory, lost: list[LeaseLost], stopped: trio.Event) -> LeaseKeeper:
    def on_lost(error: LeaseLost) -> None:
        lost.append(error)
        stopped.set()

    return await LeaseKeeper.claim(directory, CHAT, "node-a", on_lost)


def kept(directory: Directory, keeper: LeaseKeeper) -> LeaseKeepers:
    keepers = LeaseKeepers(directory)
    keepers.keep(keeper)
    return keepers


async def test_the_keeper_holds_the_lease_for_many_ttls(link: RedisLink) -> None:
    directory = Directory(link, lease_ttl_s=TTL_S)
    lost: list[LeaseLost] = []
    keeper = await _claim(directory, lost, trio.Event())
    async with trio.open_nursery() as nursery:
        nursery.start_soon(kept(directory, keeper).run)
        await trio.sleep(TTL_S * 4)  # the time that passes is what is under test
        assert await directory.holder(CHAT) == Holder("node-a", keeper.token)
        assert keeper.is_valid()
        nursery.cancel_scope.cancel()
    assert keeper.renewals >= 3
    assert lost == []


async def test_the_actor_is_told_when_another_node_took_the_chat(link: RedisLink) -> None:
    directory = Directory(link, lease_ttl_s=TTL_S)
    lost: list[LeaseLost] = []
    stopped = trio.Event()
    keeper = await _claim(directory, lost, stopped)
    # What a pause longer than the TTL looks like from Redis: the lease gone, another owner.
    await directory.release(keeper.lease)
    newer = await directory.claim(CHAT, "node-b")
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(kept(directory, keeper).run)
            await stopped.wait()
            nursery.cancel_scope.cancel()
    assert [error.chat_id for error in lost] == [CHAT]
    assert "another node" in lost[0].reason
    assert not keeper.is_valid()
    assert await directory.holder(CHAT) == Holder("node-b", newer.token)


async def test_redis_unreachable_past_the_deadline_loses_the_lease(
    redis_server: RedisServer, link: RedisLink
) -> None:
    directory = Directory(link, lease_ttl_s=TTL_S)
    lost: list[LeaseLost] = []
    stopped = trio.Event()
    keeper = await _claim(directory, lost, stopped)
    redis_server.stop()
    try:
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(kept(directory, keeper).run)
                await stopped.wait()
                nursery.cancel_scope.cancel()
    finally:
        redis_server.start()
    assert len(lost) == 1
    assert "unreachable" in lost[0].reason
    assert not keeper.is_valid()


async def test_release_frees_the_chat_and_survives_redis_down(
    redis_server: RedisServer, link: RedisLink
) -> None:
    directory = Directory(link, lease_ttl_s=TTL_S)
    keeper = await _claim(directory, [], trio.Event())
    await keeper.release()
    assert await directory.holder(CHAT) is None
    assert not keeper.is_valid()
    again = await _claim(directory, [], trio.Event())
    redis_server.stop()
    try:
        with trio.fail_after(10):
            await again.release()  # best effort: no error, no hang
    finally:
        redis_server.start()
    assert not again.is_valid()
