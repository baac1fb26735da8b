"""Directory against a real Redis: one holder per chat, growing tokens, renew/release rules."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from chatactors.cluster.directory import (
    MAX_RENEWALS_PER_CALL,
    ChatHeld,
    Directory,
    Holder,
    lease_key,
)
from chatactors.cluster.redis import RedisLink
from chatactors.domain.ids import ChatId
from tests.cluster.conftest import once_redis_answers
from tests.harness.waiting import wait_until_async
from tests.redis_server import RedisServer

CHAT = ChatId("chat-1")


async def test_the_first_claim_wins_and_others_learn_the_holder(directory: Directory) -> None:
    lease = await directory.claim(CHAT, "node-a")
    assert (lease.chat_id, lease.node_id) == (CHAT, "node-a")
    with pytest.raises(ChatHeld) as held:
        await directory.claim(CHAT, "node-b")
    assert held.value.holder == Holder("node-a", lease.token)
    assert await directory.holder(CHAT) == Holder("node-a", lease.token)
    assert await directory.holder(ChatId("other")) is None


async def test_claims_race_and_exactly_one_node_wins(directory: Directory) -> None:
    winners: list[str] = []

    async def try_claim(node_id: str) -> None:
        try:
            await directory.claim(CHAT, node_id)
        except ChatHeld:
            return
        winners.append(node_id)

    async with trio.open_nursery() as nursery:
        for n in range(10):
            nursery.start_soon(try_claim, f"node-{n}")
    assert len(winners) == 1


async def test_every_activation_gets_a_larger_token(directory: Directory) -> None:
    first = await directory.claim(CHAT, "node-a")
    assert await directory.release(first)
    second = await directory.claim(CHAT, "node-b")
    third = await directory.claim(ChatId("chat-2"), "node-a")
    again = await directory.claim(CHAT, "node-b")  # re-activation on the same node
    assert first.token < second.token < third.token < again.token


async def test_tokens_keep_growing_after_redis_lost_the_counter(
    directory: Directory, link: RedisLink
) -> None:
    before = await directory.claim(CHAT, "node-a")
    await link.execute("FLUSHALL")  # what a restart of a Redis without persistence does
    after = await directory.claim(CHAT, "node-b")
    assert after.token > before.token


async def test_renew_fails_after_release_or_after_another_node_claimed(
    directory: Directory,
) -> None:
    lease = await directory.claim(CHAT, "node-a")
    assert await directory.renew(lease)
    assert await directory.release(lease)
    assert not await directory.renew(lease)
    assert not await directory.release(lease)
    taken = await directory.claim(CHAT, "node-b")
    assert not await directory.renew(lease)
    assert not await directory.release(lease)  # a stale owner cannot free the new one's chat
    assert await directory.holder(CHAT) == Holder("node-b", taken.token)


async def test_a_lease_not_renewed_expires_and_the_chat_becomes_claimable(
    link: RedisLink,
) -> None:
    directory = Directory(link, lease_ttl_s=0.2)
    lease = await directory.claim(CHAT, "node-a")

    async def expired() -> bool:
        return await directory.holder(CHAT) is None

    await wait_until_async(expired, 10, "the lease expired")
    assert not await directory.renew(lease)
    assert (await directory.claim(CHAT, "node-b")).token > lease.token


async def test_renewal_extends_the_expiry(directory: Directory, link: RedisLink) -> None:
    lease = await directory.claim(CHAT, "node-a")
    await link.execute("PEXPIRE", lease_key(CHAT), 1000)
    assert await directory.renew(lease)
    assert await link.execute("PTTL", lease_key(CHAT)) > 1000


async def test_redis_down_raises_the_typed_error_and_recovers(
    redis_server: RedisServer, directory: Directory, link: RedisLink
) -> None:
    from chatactors.cluster.errors import ClusterUnavailable

    redis_server.stop()
    try:
        with trio.fail_after(10), pytest.raises(ClusterUnavailable) as error:
            await directory.claim(CHAT, "node-a")
        assert error.value.retry_after_s > 0
        # Known down now: the next operation fails at once, without trying to connect.
        connects = link.statistics().connects
        with trio.fail_after(10), pytest.raises(ClusterUnavailable):
            await directory.holder(CHAT)
        assert link.statistics().fast_failures == 1
        assert link.statistics().connects == connects
    finally:
        redis_server.start()
    # Back by itself once Redis answers (one probe per backoff, under a second apart).
    lease = await once_redis_answers(lambda: directory.claim(CHAT, "node-a"))
    assert await directory.holder(CHAT) == Holder("node-a", lease.token)
    assert not link.down


async def test_many_leases_are_renewed_in_one_call(directory: Directory) -> None:
    leases = [await directory.claim(ChatId(f"chat-{n}"), "node-a") for n in range(20)]
    released = leases[7]
    assert await directory.release(released)
    taken = await directory.claim(released.chat_id, "node-b")
    renewed = await directory.renew_all(leases)
    assert renewed == [n != 7 for n in range(20)]  # only the lease no longer held fails
    assert (directory.statistics().renewal_calls, directory.statistics().renewals_sent) == (1, 20)
    assert await directory.holder(released.chat_id) == Holder("node-b", taken.token)


async def test_more_leases_than_one_call_takes_go_in_several(
    directory: Directory, link: RedisLink
) -> None:
    count = MAX_RENEWALS_PER_CALL + 3
    leases = [await directory.claim(ChatId(f"chat-{n}"), "node-a") for n in range(count)]
    await link.execute("DEL", lease_key(leases[-1].chat_id))  # expired: not renewed
    assert await directory.renew_all(leases) == [True] * (count - 1) + [False]
    assert (directory.statistics().renewal_calls, directory.statistics().renewals_sent) == (
        2,
        count,
    )
