"""Two node processes come through what a Redis in production goes through: a restart (its
snapshot loaded again), a pause longer than the lease TTL, a demotion to a replica of an empty
Redis and a promotion back (a failover as Sentinel or a managed service does it, writes lost),
and a replacement by another, empty Redis.

Real processes: ``redis-server``, two ``chatactors serve`` nodes on one SQLite file (or one
PostgreSQL), posts through both nodes into several chats during the event, retried on 503/504
with the same ``client_message_id`` as clients following Retry-After do. Afterwards, within
seconds of Redis being writable again: each chat takes posts through both nodes, every
acknowledged message is in its chat's history exactly once, seq has no gap, both nodes answer
the same history, and each chat is active on exactly one node, the one its lease in Redis
names.

Fencing when Redis forgets: before the replacement, Redis's token counter is raised far past
what the next Redis will hand out, so the new leases' tokens are lower than the old ones; the
store's owner token, not Redis's, decides which owner is newest, so no chat stays refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from chatactors.cluster.directory import FENCE_KEY, lease_key
from chatactors.domain.ids import ChatId
from tests.cluster.nodes import LEASE_TTL_S, cluster_nodes, new_chat, post_until_accepted
from tests.harness.clients import metric
from tests.harness.server_process import ServerProcess
from tests.harness.waiting import wait_until_async
from tests.redis_server import RedisServer, start_redis_server

pytestmark = pytest.mark.slow

CHATS = 4
#: Posts to each chat before the event, and once it is over (as many as it takes between).
BEFORE = 3
AFTER = 3
#: A fence far above what Redis's clock gives (µs since 1970), within Lua's exact integers.
HIGH_FENCE = 5 * 10**15


async def in_thread(call: Callable[[], Any]) -> Any:
    """A blocking call (starting redis-server, a command on its socket) off Trio's thread."""
    return await trio.to_thread.run_sync(call)


async def command(redis: RedisServer, *args: str | int) -> Any:
    return await in_thread(partial(redis.command, *args))


async def restarted(redis: RedisServer) -> None:
    await command(redis, "SAVE")  # what a Redis with persistence keeps
    redis.stop()
    await trio.sleep(1)  # down for a moment, as a restart is: time passing is the point
    await in_thread(redis.start)


async def paused(redis: RedisServer) -> None:
    redis.pause()
    await trio.sleep(LEASE_TTL_S + 1)  # every lease expires meanwhile, in Redis's clock
    redis.resume()


async def demoted(redis: RedisServer) -> None:
    """A replica of an empty Redis until the sync wiped it, past a lease; then promoted."""
    primary = await in_thread(start_redis_server)
    try:
        await command(primary, "CONFIG", "SET", "repl-diskless-sync-delay", "0")
        await command(redis, "REPLICAOF", "127.0.0.1", primary.port)

        async def replicating() -> bool:
            return b"master_link_status:up" in await command(redis, "INFO", "replication")

        await wait_until_async(replicating, 30, "the replica linked to its primary")
        await trio.sleep(LEASE_TTL_S)
    finally:
        await command(redis, "REPLICAOF", "NO", "ONE")
        await in_thread(primary.remove)


async def replaced(redis: RedisServer) -> None:
    redis.stop()
    redis.forget()
    await in_thread(redis.start)


EVENTS = {"restarted": restarted, "paused": paused, "demoted": demoted, "replaced": replaced}


@asynccontextmanager
async def two_nodes_on(
    redis: RedisServer, data_dir: Path, database_url: str | None
) -> AsyncIterator[tuple[dict[str, ServerProcess], httpx.AsyncClient, httpx.AsyncClient]]:
    async with (
        cluster_nodes(redis, data_dir, database_url=database_url) as nodes,
        nodes["a"].http() as a,
        nodes["b"].http() as b,
    ):
        yield nodes, a, b


async def post_all(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    chat_id: str,
    acked: list[dict[str, Any]],
    started: trio.Event,
    over: trio.Event,
) -> None:
    """Posts through both nodes in turn, each retried until accepted, from before the event
    until a few after it is over."""
    after = 0
    while after < AFTER:
        i = len(acked)
        body = {"user_id": "bob", "type": "text", "content": f"#{i}", "client_message_id": f"c{i}"}
        response = await post_until_accepted(clients[i % 2], chat_id, body, timeout_s=60)
        assert response.status_code == 200, response.text
        acked.append(response.json()["message"])
        if len(acked) == BEFORE:
            started.set()
        if over.is_set():
            after += 1
        await trio.sleep(0.1)


async def post_once(client: httpx.AsyncClient, chat_id: str, acked: list[dict[str, Any]]) -> None:
    i = len(acked)
    body = {"user_id": "ann", "type": "text", "content": f"#{i}", "client_message_id": f"c{i}"}
    response = await post_until_accepted(client, chat_id, body)
    assert response.status_code == 200, response.text
    acked.append(response.json()["message"])


async def each_chat_on_exactly_one_node(
    redis: RedisServer,
    nodes: dict[str, ServerProcess],
    clients: list[httpx.AsyncClient],
    acked: dict[str, list[dict[str, Any]]],
) -> None:
    """Poll until every chat is active on one node only, the one its lease names; a chat
    active nowhere (its actor stopped when its lease was found gone) is posted to again, which
    activates it."""
    while True:
        holders: dict[str, int] = dict.fromkeys(nodes, 0)
        for chat_id in acked:
            holder = await command(redis, "HGET", lease_key(ChatId(chat_id)), "node")
            if holder is None:
                await post_once(clients[len(acked[chat_id]) % 2], chat_id, acked[chat_id])
            else:
                holders[holder.decode()] += 1
        active = {
            name: int(await metric(client, "chatactors_active_actors"))
            for name, client in zip(nodes, clients, strict=True)
        }
        if sum(holders.values()) == len(acked) and active == holders:
            return
        await trio.sleep(0.2)  # leases expiring, actors stopping: nothing to wait on


@pytest.mark.parametrize(
    ("event", "store"),
    [
        ("restarted", "sqlite"),
        ("paused", "sqlite"),
        ("demoted", "sqlite"),
        ("demoted", "postgres"),
        ("replaced", "sqlite"),
    ],
)
async def test_two_nodes_come_through(
    event: str, store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    database_url = request.getfixturevalue("database_url") if store == "postgres" else None
    redis = await in_thread(start_redis_server)
    try:
        if event == "replaced":
            await command(redis, "SET", FENCE_KEY, HIGH_FENCE)
        with trio.fail_after(150):
            async with two_nodes_on(redis, tmp_path / "data", database_url) as (nodes, a, b):
                chats = [await new_chat(a) for _ in range(CHATS)]
                acked: dict[str, list[dict[str, Any]]] = {chat_id: [] for chat_id in chats}
                started = [trio.Event() for _ in chats]
                over = trio.Event()
                async with trio.open_nursery() as nursery:
                    for n, chat_id in enumerate(chats):
                        # Half the chats start on each node (a post activates where it lands).
                        clients = (a, b) if n % 2 else (b, a)
                        nursery.start_soon(
                            post_all, clients, chat_id, acked[chat_id], started[n], over
                        )
                    for each in started:
                        await each.wait()
                    await EVENTS[event](redis)
                    writable_again = trio.current_time()
                    over.set()
                # Within seconds of Redis being writable again, every post went through...
                assert trio.current_time() - writable_again < 30
                for chat_id in chats:
                    # ...each chat takes a post through either node...
                    for client in (a, b):
                        await post_once(client, chat_id, acked[chat_id])
                # ...and is active on one node only (once every old lease is found gone)...
                with trio.fail_after(LEASE_TTL_S * 4):
                    await each_chat_on_exactly_one_node(redis, nodes, [a, b], acked)
                for chat_id in chats:
                    # ...with every acknowledged message once, the same through both nodes.
                    assert_exactly_once(acked[chat_id], await history(a, chat_id))
                    assert await history(b, chat_id) == await history(a, chat_id)
                if event == "replaced":
                    # The new Redis handed out lower tokens than the old one did.
                    tokens = [
                        await command(redis, "HGET", lease_key(ChatId(c)), "token") for c in chats
                    ]
                    assert all(int(token) < HIGH_FENCE for token in tokens)
    finally:
        await in_thread(redis.remove)


async def history(client: httpx.AsyncClient, chat_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/chats/{chat_id}/messages")
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()
    return messages


def assert_exactly_once(acked: list[dict[str, Any]], stored: list[dict[str, Any]]) -> None:
    posts = len(acked)
    assert [m["seq"] for m in stored] == list(range(1, posts + 1))
    assert sorted(m["content"] for m in stored) == sorted(f"#{i}" for i in range(posts))
    by_id = {m["id"]: m for m in stored}
    for message in acked:
        assert by_id[message["id"]]["seq"] == message["seq"]
