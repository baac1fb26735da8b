"""``WS /ws`` (one socket per user) across cluster nodes, with real node processes.

Users' sockets on one node, their chats owned by another (or by their own), a real
``redis-server`` and one SQLite file: every event of every chat reaches every socket once, in
order; commands are forwarded and answered as locally; a chat created through one node is
announced on the others; a socket resumes on another node after its own was SIGKILLed; a socket
keeps receiving, and its user stays online, when its chats' owner dies. Real time: every wait is
bounded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import trio
import trio_websocket

from tests.cluster.nodes import (
    LEASE_TTL_S,
    cluster_nodes,
    new_chat,
    post_until_accepted,
    presence_everywhere,
)
from tests.harness.clients import metric
from tests.harness.server_process import ServerProcess
from tests.harness.user_client import V1, Event, UserClient, is_presence_of
from tests.redis_server import RedisServer

pytestmark = pytest.mark.slow

#: The events every socket of a chat's participants receives alike (acks are the sender's).
CHAT_EVENTS = ("message_received", "presence_updated", "chat_read")


@asynccontextmanager
async def user_socket(
    node: ServerProcess, user: str, *, after: UserClient | None = None
) -> AsyncIterator[UserClient]:
    """``user``'s socket on ``node``; opened once ``after`` (another socket) is ready."""
    if after is not None:
        await after.ready()
    async with node.socket(f"/ws?user_id={user}", subprotocols=V1) as ws:
        yield UserClient(ws)


async def activate(client: httpx.AsyncClient, chat_id: str) -> None:
    """Make the node behind ``client`` the chat's owner (prefer-local placement)."""
    assert (await client.get(f"/chats/{chat_id}/messages")).status_code == 200


def text(user: str, content: str, key: str | None = None) -> dict[str, str]:
    body = {"user_id": user, "type": "text", "content": content}
    return body if key is None else {**body, "client_message_id": key}


def chat_log(log: list[Event], chat_id: str) -> list[Event]:
    """The chat's events on a socket, from its first message on (both sockets had registered
    by then), acks left out."""
    events = [e for e in log if e["chat_id"] == chat_id and e["event"] in CHAT_EVENTS]
    first = next(i for i, e in enumerate(events) if e["event"] == "message_received")
    return events[first:]


def seqs(log: list[Event], chat_id: str) -> list[int]:
    return [e["data"]["seq"] for e in chat_log(log, chat_id) if e["event"] == "message_received"]


@attrs.frozen
class Logged:
    """User sockets, each with the log of every event it received."""

    sockets: dict[str, UserClient]
    logs: dict[str, list[Event]]
    #: Events received but not matched yet: an event may come before the ack a test waits for.
    _unmatched: dict[str, list[Event]] = attrs.field(factory=dict)

    async def next(self, user: str, predicate: Callable[[Event], bool]) -> Event:
        """``user``'s first event not matched yet that matches (received already, or next)."""
        unmatched = self._unmatched.setdefault(user, [])
        for i, event in enumerate(unmatched):
            if predicate(event):
                return unmatched.pop(i)
        while True:
            event = await self.sockets[user].next()
            self.logs[user].append(event)
            if predicate(event):
                return event
            unmatched.append(event)

    async def ack(self, user: str, **command: Any) -> Event:
        await self.sockets[user].command(**command)
        answer = await self.next(user, lambda e: e["event"] in ("ack", "error"))
        assert (answer["event"], answer["chat_id"]) == ("ack", command["chat_id"]), answer
        assert answer["data"]["ref"] == command["ref"]
        return answer

    async def all_see(self, chat_id: str, predicate: Callable[[Event], bool]) -> None:
        for user in self.sockets:
            await self.next(user, lambda e: e["chat_id"] == chat_id and predicate(e))


async def converse(sockets: Logged, chat_id: str, latest_seq: Callable[[], Awaitable[int]]) -> None:
    """u and v send, u types, the bot answers each send, u reads: all seen on both sockets."""
    bot_done = is_presence_of("bot_user", "offline")
    send = {"op": "send", "chat_id": chat_id, "type": "text"}
    ack = await sockets.ack("u", **send, ref="s1", content="from u", client_message_id="u1")
    assert (ack["data"]["message"]["content"], ack["data"]["message"]["seq"]) == ("from u", 1)
    await sockets.all_see(chat_id, bot_done)
    ack = await sockets.ack("u", op="presence", chat_id=chat_id, ref="p", status="typing")
    assert ack["data"] == {"ref": "p", "status": "typing"}
    await sockets.all_see(chat_id, is_presence_of("u", "typing"))
    ack = await sockets.ack("v", **send, ref="s2", content="from v", client_message_id="v1")
    assert ack["data"]["message"]["content"] == "from v"
    await sockets.all_see(chat_id, bot_done)
    ack = await sockets.ack("u", op="read", chat_id=chat_id, ref="r")
    assert ack["data"]["last_read_seq"] == await latest_seq()
    await sockets.all_see(
        chat_id, lambda e: e["event"] == "chat_read" and e["data"]["user_id"] == "u"
    )


async def test_sockets_on_two_nodes_get_every_event_of_chats_either_owns_once_in_order(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with trio.fail_after(120):
        async with (
            cluster_nodes(redis_server, tmp_path / "data", bot=True) as nodes,
            nodes["a"].http() as a,
            nodes["b"].http() as b,
        ):
            owned_by = {"a": await new_chat(a, "u", "v"), "b": await new_chat(b, "u", "v")}
            await activate(a, owned_by["a"])
            await activate(b, owned_by["b"])
            chats = tuple(owned_by.values())
            async with (
                user_socket(nodes["b"], "u") as u,
                user_socket(nodes["a"], "v", after=u) as v,
            ):
                for client in (u, v):
                    assert set((await client.ready())["chats"]) == set(chats)
                sockets = Logged({"u": u, "v": v}, {"u": [], "v": []})
                # u (on B) sees v (on A) come online in both chats.
                online = [await sockets.next("u", is_presence_of("v", "online")) for _ in chats]
                assert {e["chat_id"] for e in online} == set(chats)
                for chat_id in chats:

                    async def latest_seq(chat_id: str = chat_id) -> int:
                        history = (await b.get(f"/chats/{chat_id}/messages")).json()
                        seq: int = history[-1]["seq"]
                        return seq

                    await converse(sockets, chat_id, latest_seq)
                logs = {user: list(log) for user, log in sockets.logs.items()}
                await u.ws.aclose()
                # u's socket on B closed: v, on A, sees u go offline in both chats.
                offline = [await sockets.next("v", is_presence_of("u", "offline")) for _ in chats]
                assert {e["chat_id"] for e in offline} == set(chats)
            for chat_id in chats:
                history = (await a.get(f"/chats/{chat_id}/messages")).json()
                everything = [m["seq"] for m in history]
                assert everything == list(range(1, len(everything) + 1))
                assert {m["user_id"] for m in history} == {"u", "v", "bot_user"}
                # Every event of the chat, once, in the owner's order, on both sockets.
                assert chat_log(logs["u"], chat_id) == chat_log(logs["v"], chat_id)
                assert seqs(logs["u"], chat_id) == everything
                assert {e["event"] for e in chat_log(logs["u"], chat_id)} == set(CHAT_EVENTS)


async def test_commands_for_another_nodes_chats_are_answered_as_for_local_ones(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with trio.fail_after(90):
        async with (
            cluster_nodes(redis_server, tmp_path / "data") as nodes,
            nodes["a"].http() as a,
            nodes["b"].http() as b,
        ):
            mine = {"a": await new_chat(a, "u", "v"), "b": await new_chat(b, "u", "v")}
            theirs = {"a": await new_chat(a, "v", "w"), "b": await new_chat(b, "v", "w")}
            for node, client in (("a", a), ("b", b)):
                await activate(client, mine[node])
                await activate(client, theirs[node])
            async with user_socket(nodes["b"], "u") as u:
                await u.ready()
                answers: dict[str, list[Event]] = {}
                for owner in ("a", "b"):  # forwarded to A, then local on B
                    cases: list[dict[str, Any]] = [
                        {"op": "send", "chat_id": mine[owner], "content": ""},
                        {"op": "send", "chat_id": mine[owner], "content": "x", "type": "video"},
                        {"op": "send", "chat_id": theirs[owner], "content": "x"},
                        {"op": "presence", "chat_id": theirs[owner], "status": "typing"},
                        {"op": "read", "chat_id": theirs[owner]},
                        {"op": "send", "chat_id": f"missing-{owner}", "content": "x"},
                        {"op": "send", "chat_id": mine[owner], "content": "ok"},
                        {"op": "read", "chat_id": mine[owner]},
                    ]
                    answers[owner] = []
                    for n, command in enumerate(cases):
                        await u.command(ref=f"{owner}{n}", **command)
                    for n in range(len(cases)):
                        answer = await u.answer(f"{owner}{n}")
                        # Compare the two owners' answers without their chat ids and refs.
                        data = {k: v for k, v in answer["data"].items() if k != "ref"}
                        data.pop("last_read_message_id", None)  # ids and times differ
                        if "message" in data:
                            data["message"] = {k: data["message"][k] for k in ("content", "seq")}
                        for key, chat_id in (("mine", mine[owner]), ("theirs", theirs[owner]),
                                             ("missing", f"missing-{owner}")):  # fmt: skip
                            data = _replaced(data, chat_id, key)
                        answers[owner].append({"event": answer["event"], "data": data})
                assert answers["a"] == answers["b"]
                statuses = [a["data"].get("status") for a in answers["a"][:6]]
                assert statuses == [422, 422, 403, 403, 403, 404]
                assert [a["event"] for a in answers["a"][6:]] == ["ack", "ack"]
            # A resume on B reads A's chat through A, B's locally: the same replay.
            async with user_socket(nodes["b"], "u") as u:
                assert (await u.ready())["chats"] == dict.fromkeys(mine.values(), 1)
                await u.command(op="resume", ref="r", positions=dict.fromkeys(mine.values(), 0))
                assert await u.messages(2) == {chat_id: [1] for chat_id in mine.values()}
                assert (await u.answer("r"))["data"]["replayed"] == dict.fromkeys(mine.values(), 1)


def _replaced(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _replaced(v, old, new) for k, v in value.items()}
    return value


async def test_a_chat_created_through_one_node_is_announced_once_on_every_node(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with trio.fail_after(90):
        async with (
            cluster_nodes(redis_server, tmp_path / "data") as nodes,
            nodes["a"].http() as a,
            user_socket(nodes["b"], "u") as u_on_b,
            user_socket(nodes["a"], "u") as u_on_a,
        ):
            for u in (u_on_b, u_on_a):
                assert (await u.ready())["chats"] == {}
            chat_id = await new_chat(a, "v", "u")
            await post_until_accepted(a, chat_id, text("v", "hello"))
            for u in (u_on_b, u_on_a):
                created = await u.next(lambda e: e["event"] == "chat_created")
                assert created["chat_id"] == created["data"]["chat_id"] == chat_id
                assert set(created["data"]["participants"]) >= {"u", "v"}
                assert created["data"]["last_message"] is None
                # Then the chat's messages, from seq 1 (posted before or after the announcement).
                hello = await u.next(lambda e: e["event"] == "message_received")
                assert (hello["chat_id"], hello["data"]["seq"]) == (chat_id, 1)
            await new_chat(a, "v", "w")  # not u's: announced to nobody here
            later = await new_chat(a, "w", "u")
            await post_until_accepted(a, chat_id, text("v", "again"))
            for u in (u_on_b, u_on_a):
                # Nothing twice: the next announcement is the later chat, the next message seq 2.
                assert (await u.next(lambda e: e["event"] == "chat_created"))["chat_id"] == later
                again = await u.next(lambda e: e["event"] == "message_received")
                assert (again["chat_id"], again["data"]["seq"]) == (chat_id, 2)


async def test_resume_on_another_node_after_the_sockets_node_was_killed(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with trio.fail_after(120):
        async with (
            cluster_nodes(redis_server, tmp_path / "data") as nodes,
            nodes["a"].http() as a,
            nodes["b"].http() as b,
        ):
            owned_by = {"a": await new_chat(a, "u", "v"), "b": await new_chat(b, "u", "v")}
            await activate(a, owned_by["a"])
            await activate(b, owned_by["b"])
            chats = tuple(owned_by.values())
            positions: dict[str, int] = {}
            async with user_socket(nodes["b"], "u") as u:
                await u.ready()
                for n in range(3):
                    for chat_id in chats:
                        await post_until_accepted(a, chat_id, text("v", f"before {n}"))
                for chat_id, got in (await u.messages(6)).items():
                    assert got == [1, 2, 3]
                    positions[chat_id] = got[-1]
                await nodes["b"].kill()  # u's node, and the owner of one chat
                with pytest.raises(trio_websocket.ConnectionClosed):
                    await u.next()
            # Missed while u was away; B's chat moves to A once its lease expires.
            for n in range(3):
                for chat_id in chats:
                    body = text("v", f"missed {n}", f"missed-{chat_id}-{n}")
                    response = await post_until_accepted(
                        a, chat_id, body, timeout_s=LEASE_TTL_S + 20
                    )
                    assert response.status_code == 200, response.text
            # Created for u while away (announced to nobody): the next socket's ready lists it.
            created = await new_chat(a, "v", "u")
            await post_until_accepted(a, created, text("v", "while away"))
            async with user_socket(nodes["a"], "u") as u:
                assert (await u.ready())["chats"] == {**dict.fromkeys(chats, 6), created: 1}
                await u.command(op="resume", ref="r", positions={**positions, created: 0})
                replayed = await u.messages(7)
                assert replayed == {**{chat_id: [4, 5, 6] for chat_id in chats}, created: [1]}
                ack = await u.answer("r")
                assert ack["data"] == {"ref": "r", "replayed": {**dict.fromkeys(chats, 3),
                                       created: 1}, "resync": [], "unknown": []}  # fmt: skip
                for chat_id in chats:
                    await post_until_accepted(a, chat_id, text("v", "live"))
                # The live messages come next: nothing replayed twice before them.
                assert await u.messages(2) == {chat_id: [7] for chat_id in chats}


async def test_a_socket_keeps_receiving_when_its_chats_owner_dies(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    posts = 30
    with trio.fail_after(150):
        async with (
            cluster_nodes(redis_server, tmp_path / "data", ("a", "b", "c")) as nodes,
            nodes["a"].http() as a,
            nodes["c"].http() as c,
        ):
            chat_id = await new_chat(a, "u", "v")
            await activate(a, chat_id)  # A owns the chat until it dies
            got: list[int] = []
            async with user_socket(nodes["b"], "u") as u:
                await u.ready()
                halfway = trio.Event()

                async def post_through_c() -> None:
                    for n in range(posts):
                        body = text("v", f"#{n}", f"post-{n}")
                        response = await post_until_accepted(
                            c, chat_id, body, timeout_s=LEASE_TTL_S + 20
                        )
                        assert response.status_code == 200, response.text
                        if n == posts // 2:
                            halfway.set()

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(post_through_c)
                    await halfway.wait()
                    await nodes["a"].kill()
                # u's socket on B never closed: every message once, in order, across the move.
                with trio.fail_after(30):
                    while len(got) < posts:
                        got.extend((await u.messages(1)).get(chat_id, []))
                assert got == list(range(1, posts + 1))
            history = (await c.get(f"/chats/{chat_id}/messages")).json()
            assert [m["seq"] for m in history] == list(range(1, posts + 1))


def in_chat(chat_id: str, predicate: Callable[[Event], bool]) -> Callable[[Event], bool]:
    return lambda e: e["chat_id"] == chat_id and predicate(e)


def is_message(content: str) -> Callable[[Event], bool]:
    return lambda e: e["event"] == "message_received" and e["data"]["content"] == content


#: Short, so that a closed socket's user goes offline soon; long enough to be told from none.
GRACE_S = 2.0


async def test_a_socket_stays_online_in_its_chats_when_their_owner_dies(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    grace = ("--presence-grace-s", str(GRACE_S))
    with trio.fail_after(150):
        async with (
            cluster_nodes(redis_server, tmp_path / "data", ("a", "b", "c"), extra=grace) as nodes,
            nodes["a"].http() as a,
            nodes["b"].http() as b,
            nodes["c"].http() as c,
        ):
            # Two chats A owns until it dies, then B (u's own node) and C; one B owns throughout.
            chats = {
                "to_b": await new_chat(a, "u", "v"),
                "to_c": await new_chat(a, "u", "v"),
                "on_b": await new_chat(b, "u", "v"),
            }
            await activate(a, chats["to_b"])
            await activate(a, chats["to_c"])
            await activate(b, chats["on_b"])
            survivor = {"to_b": b, "to_c": c, "on_b": b}
            async with user_socket(nodes["b"], "u") as u:
                assert set((await u.ready())["chats"]) == set(chats.values())
                sockets = Logged({"u": u}, {"u": []})
                for chat_id in chats.values():
                    await presence_everywhere([a, b, c], chat_id, "u", "online", timeout_s=10)
                    await post_until_accepted(c, chat_id, text("v", "before"))
                await nodes["a"].kill()
                # A post through each survivor activates the chat there (prefer-local).
                for key, chat_id in chats.items():
                    body = text("v", "after", f"after-{key}")
                    response = await post_until_accepted(
                        survivor[key], chat_id, body, timeout_s=LEASE_TTL_S + 20
                    )
                    assert response.status_code == 200, response.text
                # u's socket never reconnected: it was registered again with the new owners,
                # so u is online there, before u says anything.
                for chat_id in chats.values():
                    await presence_everywhere([b, c], chat_id, "u", "online", timeout_s=15)
                # Commands for the moved chats are answered as before the move.
                for key, chat_id in chats.items():
                    ack = await sockets.ack("u", op="send", chat_id=chat_id, ref=f"s-{key}",
                                            type="text", content="from u",
                                            client_message_id=f"u-{key}")  # fmt: skip
                    assert ack["data"]["message"]["seq"] == 3
                    ack = await sockets.ack(
                        "u", op="presence", chat_id=chat_id, ref=f"p-{key}", status="typing"
                    )
                    assert ack["data"] == {"ref": f"p-{key}", "status": "typing"}
                    await sockets.next("u", in_chat(chat_id, is_presence_of("u", "typing")))
                for key, chat_id in chats.items():
                    await post_until_accepted(survivor[key], chat_id, text("v", "last"))
                    await sockets.next("u", in_chat(chat_id, is_message("last")))
                # Every message of every chat once, in order, across the move.
                for chat_id in chats.values():
                    assert seqs(sockets.logs["u"], chat_id) == [1, 2, 3, 4]
                closed_at = trio.current_time()
                await u.ws.aclose()
            # Closed: u goes offline in every chat, at the new owners, after the grace.
            for chat_id in chats.values():
                await presence_everywhere([b, c], chat_id, "u", "offline", timeout_s=15)
                assert trio.current_time() - closed_at >= GRACE_S
            assert await metric(b, "chatactors_cluster_sockets_reregistered_total") == 2
            for key, chat_id in chats.items():
                history = (await survivor[key].get(f"/chats/{chat_id}/messages")).json()
                assert [m["seq"] for m in history] == [1, 2, 3, 4]


@asynccontextmanager
async def reopened(node: ServerProcess, user: str, refused: list[str]) -> AsyncIterator[UserClient]:
    """``user``'s socket on ``node``, opened again and again (as a client retries) until it is
    ready; each refusal's close code and reason go to ``refused``."""
    with trio.fail_after(LEASE_TTL_S + 20):
        while True:
            async with user_socket(node, user) as client:
                try:
                    await client.ready()
                except trio_websocket.ConnectionClosed as closed:
                    refused.append(str(closed.reason))
                else:
                    yield client
                    return
            await trio.sleep(0.1)


async def test_a_socket_reopened_at_once_on_another_node_resumes_exactly(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    with trio.fail_after(120):
        async with (
            cluster_nodes(redis_server, tmp_path / "data") as nodes,
            nodes["a"].http() as a,
            nodes["b"].http() as b,
        ):
            owned_by = {"a": await new_chat(a, "u", "v"), "b": await new_chat(b, "u", "v")}
            await activate(a, owned_by["a"])
            await activate(b, owned_by["b"])
            chats = tuple(owned_by.values())
            async with user_socket(nodes["b"], "u") as u:
                await u.ready()
                for chat_id in chats:
                    await post_until_accepted(a, chat_id, text("v", "before"))
                assert await u.messages(2) == {chat_id: [1] for chat_id in chats}
                await nodes["b"].kill()  # u's node, and the owner of one chat
            for n in range(3):
                await post_until_accepted(a, owned_by["a"], text("v", f"missed {n}"))
            refused: list[str] = []
            # At once: B's chat is still leased to B (dead) for up to its lease's TTL.
            async with reopened(nodes["a"], "u", refused) as u:
                assert (await u.ready())["chats"] == {owned_by["a"]: 4, owned_by["b"]: 1}
                await u.command(op="resume", ref="r", positions=dict.fromkeys(chats, 1))
                assert await u.messages(3) == {owned_by["a"]: [2, 3, 4]}
                ack = await u.answer("r")
                assert ack["data"]["replayed"] == {owned_by["a"]: 3, owned_by["b"]: 0}
                for chat_id in chats:
                    await post_until_accepted(a, chat_id, text("v", "live"))
                assert await u.messages(2) == {owned_by["a"]: [5], owned_by["b"]: [2]}
            # The socket waited for B's chat to move instead of refusing (1013) until it had.
            assert refused == []
