"""coredis runs on Trio (through AnyIO): the cluster package is built on that, so check it."""

from __future__ import annotations

import coredis
import trio

from tests.redis_server import RedisServer


async def test_commands_scripts_and_pubsub_run_under_trio(redis: coredis.Redis[bytes]) -> None:
    with trio.fail_after(10):
        assert await redis.set("greeting", "hello")
        assert await redis.get("greeting") == b"hello"
        double = redis.register_script("return tonumber(ARGV[1]) * 2")
        assert await double(args=[21]) == 42
        async with redis.pubsub(channels=["news"], ignore_subscribe_messages=True) as sub:
            assert await redis.publish("news", b"\x00bytes") == 1
            # The iterator skips the subscription acknowledgement (None from get_message).
            message = await anext(aiter(sub))
            assert message["channel"] == b"news"
            assert message["data"] == b"\x00bytes"


async def test_concurrent_trio_tasks_share_one_client(redis_server: RedisServer) -> None:
    """Commands are awaitable requests (not coroutine functions) multiplexed on the pool."""

    async def bump(client: coredis.Redis[bytes]) -> None:
        await client.incr("counter")

    with trio.fail_after(10):
        async with coredis.Redis.from_url(redis_server.url) as client:
            async with trio.open_nursery() as nursery:
                for _ in range(20):
                    nursery.start_soon(bump, client)
            assert await client.get("counter") == b"20"
