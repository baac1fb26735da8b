"""The node's Redis connections: commands, pipelines, scripts, failures, and the URL."""

from __future__ import annotations

import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import trio

from chatactors.cluster.redis import (
    Channels,
    RedisAddress,
    RedisLink,
    RedisRefused,
    RedisReplyError,
    RedisUnavailable,
    Script,
    open_channels,
    open_redis_link,
)
from chatactors.cluster.redis.link import MAX_CONNECTIONS
from tests.cluster.conftest import LINK_TIMEOUT_S, once_redis_answers
from tests.harness.server_process import serve_command
from tests.harness.waiting import wait_until_async
from tests.redis_server import RedisServer, free_port


async def test_commands_and_pipelines_return_redis_replies(link: RedisLink) -> None:
    assert await link.execute("SET", "greeting", b"\x00hello") == b"OK"
    assert await link.execute("GET", "greeting") == b"\x00hello"
    assert await link.execute("GET", "missing") is None
    replies = await link.execute_many([("INCR", "n"), ("INCRBY", "n", 41), ("HMGET", "h", "a")])
    assert replies == [1, 42, [None]]


async def test_a_refused_command_is_a_reply_error_not_an_outage(link: RedisLink) -> None:
    await link.execute("SET", "text", "not a number")
    with pytest.raises(RedisReplyError, match="not an integer"):
        await link.execute("INCR", "text")
    # In a pipeline the others still run, and the refused one's reply says why.
    first, refused, last = await link.execute_many(
        [("SET", "a", 1), ("INCR", "text"), ("GET", "a")]
    )
    assert (first, last) == (b"OK", b"1")
    assert isinstance(refused, RedisReplyError)
    assert link.statistics().failures == 0


async def test_a_script_runs_by_its_sha_and_is_sent_again_when_redis_lost_it(
    link: RedisLink,
) -> None:
    double = Script("return tonumber(ARGV[1]) * 2 + #KEYS")
    assert await link.run_script(double, keys=["k"], args=[20]) == 41
    await link.execute("SCRIPT", "FLUSH")  # what a restart of Redis does to its script cache
    assert await link.run_script(double, keys=[], args=[21]) == 42
    with pytest.raises(RedisReplyError):
        await link.run_script(Script("return redis.call('NOSUCHCOMMAND')"), keys=[], args=[])


async def test_concurrent_tasks_share_the_link(link: RedisLink) -> None:
    async def bump() -> None:
        await link.execute("INCR", "counter")

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            for _ in range(50):
                nursery.start_soon(bump)
    assert await link.execute("GET", "counter") == b"50"


async def test_a_cancelled_command_leaves_nothing_for_the_next_one(link: RedisLink) -> None:
    await link.execute("SET", "k", "v")
    with trio.move_on_after(0.1) as waited:
        await link.execute("BLPOP", "empty-list", 1)  # blocks in Redis for a second
    assert waited.cancelled_caught
    # Its connection was dropped, not pooled: the next command reads its own reply.
    assert await link.execute("GET", "k") == b"v"
    await trio.sleep(1.2)  # BLPOP's own reply (nil) would have arrived by now
    assert await link.execute("GET", "k") == b"v"


async def test_a_restarted_redis_is_reached_again_without_a_failed_command(
    redis_server: RedisServer, link: RedisLink
) -> None:
    assert await link.execute("PING") == b"PONG"
    redis_server.stop()
    redis_server.start()
    # The pooled connection Redis closed is noticed before use, not failed on.
    assert await link.execute("PING") == b"PONG"
    assert link.statistics().failures == 0


async def test_redis_down_fails_within_the_bound(redis_server: RedisServer) -> None:
    async with open_redis_link(redis_server.url, timeout_s=LINK_TIMEOUT_S) as link:
        redis_server.pause()
        try:
            with trio.fail_after(LINK_TIMEOUT_S * 3), pytest.raises(RedisUnavailable) as raised:
                await link.execute("PING")
            assert isinstance(raised.value.__cause__, TimeoutError)
        finally:
            redis_server.resume()
        assert link.statistics().failures == 1
        assert await once_redis_answers(lambda: link.execute("PING")) == b"PONG"


async def test_the_url_selects_the_database(redis_server: RedisServer, link: RedisLink) -> None:
    async with open_redis_link(
        redis_server.url.removesuffix("/0") + "/3", timeout_s=LINK_TIMEOUT_S
    ) as db3:
        await db3.execute("SET", "where", "db3")
        assert await db3.execute("GET", "where") == b"db3"
    assert await link.execute("GET", "where") is None


async def test_a_password_in_the_url_authenticates(
    redis_server: RedisServer, link: RedisLink
) -> None:
    await link.execute("CONFIG", "SET", "requirepass", "s3cret")
    authed = redis_server.url.replace("redis://", "redis://:s3cret@")
    try:
        # Without it: Redis is unreachable to this node (503), not a failed command.
        async with open_redis_link(redis_server.url, timeout_s=LINK_TIMEOUT_S) as anonymous:
            with pytest.raises(RedisUnavailable) as refused_anonymous:
                await anonymous.execute("PING")
            assert "NOAUTH" in str(refused_anonymous.value.__cause__)
        async with open_redis_link(authed, timeout_s=LINK_TIMEOUT_S) as with_password:
            assert await with_password.execute("PING") == b"PONG"
        # A wrong password: Redis is unreachable to this node (503), not a failed command.
        wrong = redis_server.url.replace("redis://", "redis://:wrong@")
        async with open_redis_link(wrong, timeout_s=LINK_TIMEOUT_S) as refused:
            with pytest.raises(RedisUnavailable) as raised:
                await refused.execute("PING")
            assert isinstance(raised.value.__cause__, RedisRefused)
            assert refused.statistics().failures == 1
    finally:
        async with open_redis_link(authed, timeout_s=LINK_TIMEOUT_S) as cleanup:
            await cleanup.execute("CONFIG", "SET", "requirepass", "")


def test_redis_urls() -> None:
    assert RedisAddress.from_url("redis://localhost") == RedisAddress("localhost", 6379)
    assert RedisAddress.from_url("redis://10.0.0.5:7000/2") == RedisAddress("10.0.0.5", 7000, 2)
    assert RedisAddress.from_url("redis://app:p%40ss@h:1/0") == RedisAddress(
        "h", 1, 0, username="app", password="p@ss"
    )
    assert RedisAddress.from_url("unix:///run/redis.sock") == RedisAddress(
        "", 0, socket_path="/run/redis.sock"
    )
    assert RedisAddress.from_url("unix://:p%40ss@/run/redis.sock?db=4") == RedisAddress(
        "", 0, 4, password="p@ss", socket_path="/run/redis.sock"
    )
    assert RedisAddress.from_url("unix://app@/r.sock?db=1&password=pw") == RedisAddress(
        "", 0, 1, username="app", password="pw", socket_path="/r.sock"
    )
    assert RedisAddress.from_url("unix:///r.sock").where == "/r.sock"
    assert RedisAddress.from_url("redis://:pw@h:1").where == "h:1"
    assert RedisAddress.from_url("rediss://app:pw@cache.example:6380/1") == RedisAddress(
        "cache.example", 6380, 1, username="app", password="pw", tls=True
    )
    assert not RedisAddress.from_url("redis://h").tls
    wrong_urls = ("http://localhost", "redis:///0", "redis://h:1/zero", "unix://host/r.sock",
                  "unix://", "unix:///r.sock?db=two", "redis://h:port/0")  # fmt: skip
    for wrong in wrong_urls:
        with pytest.raises(ValueError, match="Redis URL"):
            RedisAddress.from_url(wrong)
    # What is wrong is said without the password, as is the address itself.
    with pytest.raises(ValueError, match="port is a number") as said:
        RedisAddress.from_url("redis://app:s3cret@h:port/0")
    assert "s3cret" not in str(said.value)
    assert "s3cret" not in repr(RedisAddress.from_url("rediss://app:s3cret@h/0"))


async def test_a_unix_socket_url_reaches_the_same_redis(
    redis_server: RedisServer, link: RedisLink
) -> None:
    async with open_redis_link(redis_server.unix_url, timeout_s=LINK_TIMEOUT_S) as local:
        await local.execute("SET", "through", "unix")
        assert await link.execute("GET", "through") == b"unix"
        (client,) = await local.execute_many([("CLIENT", "INFO")])
        assert b"laddr=" + str(redis_server.root / "redis.sock").encode() in client
        async with open_channels(local) as channels:
            heard: list[bytes] = []
            await channels.listen("over-unix", heard.append)
            assert await link.execute("PUBLISH", "over-unix", "hello") == 1
            await wait_until_async(lambda: bool(heard), LINK_TIMEOUT_S * 5, "the message heard")
    assert heard == [b"hello"]


async def test_channels_say_whether_they_listen_through_an_outage(
    redis_server: RedisServer, channels: Channels
) -> None:
    heard: list[bytes] = []
    await channels.listen("news", heard.append)
    assert channels.listening
    redis_server.stop()
    # The state follows a socket's end.
    await wait_until_async(lambda: not channels.listening, LINK_TIMEOUT_S * 5, "listening ended")
    redis_server.start()
    with trio.fail_after(LINK_TIMEOUT_S * 10):
        await wait_until_async(lambda: channels.listening, LINK_TIMEOUT_S * 10, "listening again")
        # Subscribed again by itself: a message published now is heard.
        assert await channels.publish("news", b"after") == 1
        await wait_until_async(lambda: bool(heard), LINK_TIMEOUT_S * 10, "the message heard")
    assert heard == [b"after"]
    assert channels.statistics().reconnects == 1


async def test_a_quiet_pub_sub_connection_is_pinged_and_kept_while_redis_answers(
    redis_server: RedisServer,
) -> None:
    async def pings() -> int:
        stats: bytes = await link.execute("INFO", "commandstats")
        line = next((x for x in stats.splitlines() if x.startswith(b"cmdstat_ping:")), b"=0,")
        return int(line.partition(b"=")[2].partition(b",")[0])

    def pinged_since(before: int) -> Callable[[], Awaitable[bool]]:
        async def pinged() -> bool:
            return await pings() != before

        return pinged

    def heard_more_than(count: int) -> Callable[[], bool]:
        return lambda: len(heard) > count

    heard: list[bytes] = []
    async with (
        open_redis_link(redis_server.url, timeout_s=0.2) as link,
        open_channels(link) as channels,
    ):
        await channels.listen("quiet", heard.append)
        with trio.fail_after(LINK_TIMEOUT_S * 10):
            for round_ in range(3):
                # Silent past the timeout, three times over: each time a PING is sent, Redis
                # answers it, and the connection is kept (the next message is heard on it).
                before = await pings()
                await wait_until_async(pinged_since(before), LINK_TIMEOUT_S * 10, "a PING sent")
                assert await channels.publish("quiet", str(round_).encode()) == 1
                await wait_until_async(
                    heard_more_than(round_), LINK_TIMEOUT_S * 10, "the message heard"
                )
    assert heard == [b"0", b"1", b"2"]
    assert channels.statistics().reconnects == 0


async def test_a_burst_shares_a_bounded_number_of_connections(link: RedisLink) -> None:
    async def connections_so_far() -> int:
        stats: bytes = await link.execute("INFO", "stats")
        line = next(x for x in stats.splitlines() if x.startswith(b"total_connections_received:"))
        return int(line.partition(b":")[2])

    async def ask() -> None:
        assert await link.execute("PING") == b"PONG"

    before = await connections_so_far()
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            for _ in range(MAX_CONNECTIONS * 3):
                nursery.start_soon(ask)
    assert await connections_so_far() - before <= MAX_CONNECTIONS


async def test_quiet_commands_run_without_a_reply_and_leave_the_connection_in_step(
    link: RedisLink,
) -> None:
    replies = await link.execute_many(
        [("SET", "a", 1), ("INCR", "a"), ("SET", "b", 2), ("INCR", "b")],
        quiet=[True, False, True, True],
    )
    assert replies == [None, 2, None, None]
    # Each later command reads its own reply, not one a quiet command would have left.
    for _ in range(3):
        assert await link.execute("MGET", "a", "b") == [b"2", b"3"]


async def test_quiet_commands_on_a_redis_that_refuses_to_skip_replies(
    redis_server: RedisServer, link: RedisLink
) -> None:
    # A managed Redis (or an ACL, as here) may deny CLIENT: the replies come, and are dropped.
    await link.execute("ACL", "SETUSER", "noclient", "on", ">pw", "~*", "&*", "+@all", "-client")
    url = redis_server.url.replace("redis://", "redis://noclient:pw@")
    try:
        async with open_redis_link(url, timeout_s=LINK_TIMEOUT_S) as limited:
            replies = await limited.execute_many(
                [("SET", "a", 1), ("INCR", "a"), ("INCR", "a")], quiet=[True, False, True]
            )
            assert replies == [None, 2, None]
            for _ in range(3):
                assert await limited.execute("GET", "a") == b"3"
            assert not limited.down
    finally:
        await link.execute("ACL", "DELUSER", "noclient")


async def test_a_message_a_handler_chokes_on_is_dropped_not_the_connection(
    channels: Channels,
) -> None:
    heard: list[bytes] = []

    def picky(data: bytes) -> None:
        if data == b"garbage":
            raise ValueError("cannot decode")
        heard.append(data)

    await channels.listen("picky", picky)
    await channels.listen("other", heard.append)
    await channels.publish("picky", b"garbage")
    await channels.publish("picky", b"fine")
    await channels.publish("other", b"also fine")
    await wait_until_async(lambda: len(heard) >= 2, LINK_TIMEOUT_S * 5, "both good messages heard")
    assert heard == [b"fine", b"also fine"]
    assert channels.statistics().rejected == 1
    assert channels.statistics().reconnects == 0


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("redis://127.0.0.1:{free}/0", "is unreachable"),
        ("redis://:wrong@127.0.0.1:{port}/0", "refused this node (ERR AUTH"),
        ("http://127.0.0.1:{port}", "a Redis URL starts with redis://"),
        ("unix:///nonexistent/redis.sock", "Redis at /nonexistent/redis.sock is unreachable"),
    ],
)
def test_serving_without_a_reachable_redis_says_why_in_one_line(
    redis_server: RedisServer, tmp_path: Path, url: str, said: str
) -> None:
    redis_url = url.format(free=free_port(), port=redis_server.port)
    done = subprocess.run(
        serve_command("--redis-url", redis_url, data_dir=tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    last_line = done.stderr.strip().splitlines()[-1]
    assert last_line.startswith("chatactors serve: ")
    assert said in last_line
    assert "wrong" not in last_line  # never the password
    assert "Traceback" not in done.stderr
