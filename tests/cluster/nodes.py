"""Cluster nodes as real ``chatactors serve`` processes over one store and one Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import attrs
import httpx
import trio

from tests.harness.server_process import ServerProcess, open_server_process
from tests.harness.waiting import wait_until_async
from tests.redis_server import RedisServer

#: Short enough that a failover test waits little, long enough for a loaded 2-core machine.
LEASE_TTL_S = 3.0


def node_args(redis: RedisServer, name: str, *extra: str) -> tuple[str, ...]:
    return ("--redis-url", redis.url, "--node-id", name, "--lease-ttl-s", str(LEASE_TTL_S),
            *extra)  # fmt: skip


@asynccontextmanager
async def cluster_nodes(
    redis: RedisServer,
    data_dir: Path,
    names: tuple[str, ...] = ("a", "b"),
    *,
    bot: bool = False,
    extra: tuple[str, ...] = (),
    database_url: str | None = None,
) -> AsyncIterator[dict[str, ServerProcess]]:
    """Start one node per name, each a process on its own port, all on one store."""
    async with AsyncExitStack() as stack:
        nodes: dict[str, ServerProcess] = {}
        for name in names:
            nodes[name] = await stack.enter_async_context(
                open_server_process(
                    *node_args(redis, name, *extra),
                    data_dir=data_dir,
                    database_url=database_url,
                    bot=bot,
                )
            )
        yield nodes


async def post_until_accepted(
    client: httpx.AsyncClient, chat_id: str, body: dict[str, str], *, timeout_s: float = 30
) -> httpx.Response:
    """POST a message, retrying on 503 (the chat is moving between nodes), 504 (a node died
    before answering: outcome unknown) or a broken connection (a keep-alive connection a paused
    node timed out on waking) with the same client_message_id, as a client following
    Retry-After does."""
    with trio.fail_after(timeout_s):
        while True:
            try:
                response = await client.post(f"/chats/{chat_id}/messages", json=body)
            except httpx.TransportError:
                await trio.sleep(0.1)
                continue
            if response.status_code not in (503, 504):
                return response
            await trio.sleep(0.1)


async def new_chat(client: httpx.AsyncClient, *users: str) -> str:
    response = await client.post("/chats", json={"participants": list(users or ("ann", "bob"))})
    response.raise_for_status()
    chat_id: str = response.json()["chat_id"]
    return chat_id


async def presence_everywhere(
    clients: list[httpx.AsyncClient], chat_id: str, user: str, status: str, *, timeout_s: float
) -> None:
    """Poll GET presence on every node (503s while the chat moves) until ``user`` has ``status``
    on all of them."""

    async def everywhere() -> bool:
        statuses = []
        for client in clients:
            response = await client.get(f"/chats/{chat_id}/presence")
            if response.status_code == 200:
                found = [p["status"] for p in response.json() if p["user_id"] == user]
                statuses.append(found[0] if found else None)
        return statuses == [status] * len(clients)

    await wait_until_async(everywhere, timeout_s, f"{user} {status} on every node")


@attrs.frozen
class TwoNodes:
    """Nodes a and b, an HTTP client for each, and a chat of ann and bob."""

    nodes: dict[str, ServerProcess]
    a: httpx.AsyncClient
    b: httpx.AsyncClient
    chat_id: str


@asynccontextmanager
async def two_nodes(
    redis: RedisServer, data_dir: Path, *, bot: bool = False, extra: tuple[str, ...] = ()
) -> AsyncIterator[TwoNodes]:
    async with (
        cluster_nodes(redis, data_dir, bot=bot, extra=extra) as nodes,
        nodes["a"].http() as a,
        nodes["b"].http() as b,
    ):
        yield TwoNodes(nodes, a, b, await new_chat(a))
