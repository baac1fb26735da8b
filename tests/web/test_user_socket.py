"""WS /ws, one socket per user, against a real Hypercorn on 127.0.0.1 port 0 (real clock).

Every wait is for a frame the test expects, bounded by ``clients.WAIT_S``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from chatactors.web.auth import issue_token
from tests.harness.clients import open_socket, wait_closed
from tests.harness.served_app import ServedApp, served_app, served_settings
from tests.harness.user_client import V1, UserClient, is_presence_of

SECRET = "s" * 40


@asynccontextmanager
async def user_socket(server: ServedApp, query: str) -> AsyncIterator[UserClient]:
    async with server.socket(f"/ws?{query}", subprotocols=V1) as ws:
        yield UserClient(ws)


async def ready(client: UserClient) -> dict[str, Any]:
    return await client.ready()


async def closed_with(client: UserClient) -> int:
    return (await wait_closed(client.ws)).code


@asynccontextmanager
async def server_with(tmp_path: Path, **overrides: Any) -> AsyncIterator[ServedApp]:
    async with served_app(served_settings(tmp_path, store="memory", **overrides)) as served:
        yield served


async def presence_of(server: ServedApp, chat_id: str) -> dict[str, str]:
    listed = (await server.http.get(f"/chats/{chat_id}/presence")).json()
    return {p["user_id"]: p["status"] for p in listed}


async def test_two_users_get_every_event_of_their_chats_once_in_seq_order(
    tmp_path: Path,
) -> None:
    async with server_with(tmp_path) as server:
        both = [await server.new_chat("alice", "bob") for _ in range(3)]
        alice_only = await server.new_chat("alice", "carol")
        async with (
            user_socket(server, "user_id=alice") as alice,
            user_socket(server, "user_id=bob") as bob,
        ):
            assert set((await ready(alice))["chats"]) == {*both, alice_only}
            assert set((await ready(bob))["chats"]) == set(both)
            for n in range(10):
                for chat_id in [*both, alice_only]:
                    await server.post(chat_id, "carol" if chat_id == alice_only else "bob", f"{n}")
            # Every message of each user's chats, in order per chat, and nothing else.
            every = list(range(1, 11))
            assert await alice.messages(40) == dict.fromkeys([*both, alice_only], every)
            assert await bob.messages(30) == dict.fromkeys(both, every)
            # A marker sent last arrives next: nothing was duplicated in between.
            marker = await server.post(both[0], "alice", "marker")
            for client in (alice, bob):
                assert (await client.messages(1)) == {both[0]: [marker["seq"]]}


async def test_a_chat_created_after_connect_is_announced_then_live(tmp_path: Path) -> None:
    async with server_with(tmp_path) as server, user_socket(server, "user_id=alice") as alice:
        assert (await ready(alice))["chats"] == {}
        chat_id = await server.new_chat("bob", "alice")
        created = await alice.next()
        assert created["event"] == "chat_created"
        assert created["chat_id"] == chat_id
        assert created["data"]["chat_id"] == chat_id
        assert set(created["data"]["participants"]) >= {"alice", "bob"}
        assert created["data"]["last_message"] is None
        assert created["data"]["unread_count"] == 0
        await server.post(chat_id, "bob", "hello")
        message = await alice.next(lambda e: e["event"] == "message_received")
        assert message["chat_id"] == chat_id
        assert message["data"]["content"] == "hello"
        await server.new_chat("bob", "carol")  # not alice's: never announced to her
        other = await server.new_chat("alice", "carol")
        assert (await alice.next(lambda e: e["event"] == "chat_created"))["chat_id"] == other


async def test_resume_replays_exactly_the_messages_after_each_position(tmp_path: Path) -> None:
    async with server_with(tmp_path) as server:
        first, second = await server.new_chat("alice", "bob"), await server.new_chat("alice")
        for n in range(5):
            await server.post(first, "bob", f"a{n}")
        for n in range(3):
            await server.post(second, "alice", f"b{n}")
        async with user_socket(server, "user_id=alice") as alice:
            assert (await ready(alice))["chats"] == {first: 5, second: 3}
            await alice.command(op="resume", ref="r", positions={first: 2, second: 3})
            assert await alice.messages(3) == {first: [3, 4, 5]}
            ack = await alice.answer("r")
            assert ack["event"] == "ack"
            assert ack["data"]["replayed"] == {first: 3, second: 0}
            await server.post(first, "bob", "live")
            await server.post(second, "alice", "live")
            # Next on the socket: the live messages, with no duplicate before them.
            live = await alice.next(lambda e: e["event"] == "message_received")
            assert (live["chat_id"], live["data"]["seq"]) == (first, 6)
            live = await alice.next(lambda e: e["event"] == "message_received")
            assert (live["chat_id"], live["data"]["seq"]) == (second, 4)


async def test_resume_beyond_the_bound_gets_resync(tmp_path: Path) -> None:
    async with server_with(tmp_path, max_replay=3) as server:
        chat_id = await server.new_chat("alice", "bob")
        for n in range(6):
            await server.post(chat_id, "bob", f"{n}")
        async with user_socket(server, "user_id=alice") as alice:
            await ready(alice)
            await alice.command(op="resume", ref="r", positions={chat_id: 1, "nope": 0})
            resync = await alice.next(lambda e: e["event"] == "resync")
            assert resync == {"event": "resync", "chat_id": chat_id,
                              "data": {"after_seq": 1, "latest_seq": 6,
                                       "latest_pos": 6}}  # fmt: skip
            ack = await alice.answer("r")
            assert ack["data"] == {"ref": "r", "replayed": {}, "resync": [chat_id],
                                   "unknown": ["nope"]}  # fmt: skip


async def test_an_open_socket_makes_its_user_online_in_each_chat(tmp_path: Path) -> None:
    # A short presence grace: alice goes offline soon after her socket closes.
    async with server_with(tmp_path, typing_timeout_s=0.2, presence_grace_s=0.2) as server:
        chats = [await server.new_chat("alice", "bob") for _ in range(2)]
        async with user_socket(server, "user_id=bob") as bob:
            await ready(bob)
            async with user_socket(server, "user_id=alice") as alice:
                await ready(alice)
                for _ in chats:
                    online = await bob.next(is_presence_of("alice"))
                    assert online["data"]["status"] == "online"
                    assert (await presence_of(server, online["chat_id"]))["alice"] == "online"
                await alice.command(op="presence", chat_id=chats[0], ref="t", status="typing")
                assert (await alice.answer("t"))["data"] == {"ref": "t", "status": "typing"}
                typing = await bob.next(is_presence_of("alice"))
                assert (typing["chat_id"], typing["data"]["status"]) == (chats[0], "typing")
                # The typing timeout brings alice back to online.
                back = await bob.next(is_presence_of("alice"))
                assert (back["chat_id"], back["data"]["status"]) == (chats[0], "online")
            offline = set()
            for _ in chats:
                event = await bob.next(is_presence_of("alice"))
                assert event["data"]["status"] == "offline"
                offline.add(event["chat_id"])
            assert offline == set(chats)


async def test_a_slow_consumer_is_dropped_with_4008_the_other_keeps_receiving(
    tmp_path: Path,
) -> None:
    async with server_with(tmp_path, subscriber_queue_size=8) as server:
        chat_id = await server.new_chat("alice", "bob")
        registry = server.services.registry
        async with (
            # trio-websocket reads nothing more once its one-message queue is full.
            open_socket(
                server.ws_url + "/ws?user_id=alice", subprotocols=V1, message_queue_size=1
            ) as stuck_ws,
            user_socket(server, "user_id=bob") as bob,
        ):
            await ready(bob)
            big = "x" * 60_000  # fills the socket buffers quickly
            sent = 0
            received: list[int] = []
            async with trio.open_nursery() as nursery:

                async def read_all() -> None:
                    while True:
                        event = await bob.next(lambda e: e["event"] == "message_received")
                        received.append(event["data"]["seq"])

                nursery.start_soon(read_all)
                while not registry.statistics().lagged_subscribers and sent < 500:
                    await server.post(chat_id, "bob", big)
                    sent += 1
                nursery.cancel_scope.cancel()
            while len(received) < sent:
                received.append((await bob.messages(1))[chat_id][0])
            assert registry.statistics().lagged_subscribers == 1
            assert received == list(range(1, sent + 1))
            assert await closed_with(UserClient(stuck_ws)) == 4008


async def test_bad_commands_get_error_frames_and_the_socket_stays_open(tmp_path: Path) -> None:
    async with server_with(tmp_path) as server:
        chat_id = await server.new_chat("alice", "bob")
        theirs = await server.new_chat("bob", "carol")
        async with user_socket(server, "user_id=alice") as alice:
            await ready(alice)
            await alice.ws.send_message("not json")
            error = await alice.next(lambda e: e["event"] == "error")
            assert (error["event"], error["data"]["status"]) == ("error", 422)
            cases: list[tuple[dict[str, Any], int]] = [
                ({"op": "fly"}, 422),
                ({"op": "send", "content": "no chat"}, 422),
                ({"op": "send", "chat_id": "missing", "content": "x"}, 404),
                ({"op": "send", "chat_id": theirs, "content": "x"}, 403),
                ({"op": "send", "chat_id": chat_id, "content": 5}, 422),
                ({"op": "presence", "chat_id": chat_id, "status": "asleep"}, 422),
                ({"op": "resume", "positions": {chat_id: -1}}, 422),
                ({"op": "resume", "positions": [1]}, 422),
            ]
            for n, (command, status) in enumerate(cases):
                await alice.command(ref=f"bad{n}", **command)
                answer = await alice.answer(f"bad{n}")
                assert (answer["event"], answer["data"]["status"]) == ("error", status), command
            await alice.command(op="send", chat_id=chat_id, ref="ok", content="still here")
            ack = await alice.answer("ok")
            assert (ack["event"], ack["chat_id"]) == ("ack", chat_id)
            assert ack["data"]["message"]["seq"] == 1
            await alice.command(op="read", chat_id=chat_id, ref="read")
            assert (await alice.answer("read"))["data"]["last_read_seq"] == 1


async def test_with_access_control_the_token_decides_the_user(tmp_path: Path) -> None:
    async with server_with(tmp_path, auth_enabled=True, auth_secret=SECRET) as server:
        token = issue_token(SECRET, "alice", ttl_s=60)
        headers = {"Authorization": f"Bearer {token}"}
        created = await server.http.post(
            "/chats", json={"participants": ["alice", "bob"]}, headers=headers
        )
        chat_id = created.json()["chat_id"]
        async with user_socket(server, f"token={token}") as alice:
            data = await ready(alice)
            assert (data["user_id"], list(data["chats"])) == ("alice", [chat_id])
        async with user_socket(server, f"token={token}&user_id=bob") as impostor:
            assert await closed_with(impostor) == 4403
        async with user_socket(server, "user_id=alice") as anonymous:
            assert await closed_with(anonymous) == 4401


async def test_server_shutdown_closes_the_user_socket_with_1001(tmp_path: Path) -> None:
    async with server_with(tmp_path) as server:
        await server.new_chat("alice", "bob")
        async with user_socket(server, "user_id=alice") as alice:
            await ready(alice)
            server.stop()
            assert await closed_with(alice) == 1001


async def test_a_socket_carries_at_most_ws_user_max_chats(tmp_path: Path) -> None:
    async with server_with(tmp_path, ws_user_max_chats=2) as server:
        chats = [await server.new_chat("alice", "bob") for _ in range(3)]
        await server.post(chats[0], "bob", "the oldest chat is now the most recently active")
        async with user_socket(server, "user_id=alice") as alice:
            data = await ready(alice)
            assert data["max_chats"] == 2
            assert set(data["chats"]) == {chats[0], chats[2]}
            late = await server.new_chat("alice", "carol")
            assert (await alice.next(lambda e: e["event"] == "chat_created"))["chat_id"] == late
            await server.post(late, "carol", "not carried")
            await server.post(chats[2], "bob", "carried")
            message = await alice.next(lambda e: e["event"] == "message_received")
            assert (message["chat_id"], message["data"]["content"]) == (chats[2], "carried")
            await alice.command(op="resume", ref="r", positions={late: 0, chats[1]: 0})
            assert (await alice.answer("r"))["data"]["unknown"] == [late, chats[1]]


async def test_a_socket_without_a_user_is_closed_with_4422(tmp_path: Path) -> None:
    async with server_with(tmp_path) as server, user_socket(server, "") as nobody:
        assert await closed_with(nobody) == 4422


async def test_mentions_arrive_as_messages_and_ready_counts_the_unread_ones(
    tmp_path: Path,
) -> None:
    async with server_with(tmp_path) as server:
        chat_id = await server.new_chat("alice", "bob")
        quiet = await server.new_chat("alice", "carol")
        await server.post(chat_id, "bob", "@alice are you there?")
        await server.post(chat_id, "bob", "and @[alice] again")
        async with user_socket(server, "user_id=alice") as alice:
            assert (await ready(alice))["unread_mentions"] == {chat_id: 2, quiet: 0}
            await server.post(chat_id, "bob", "@alice third")
            mention = await alice.next(lambda e: e["event"] == "message_received")
            assert (mention["chat_id"], mention["data"]["mentions"]) == (chat_id, ["alice"])
            created = await server.new_chat("dave", "alice")
            announced = await alice.next(lambda e: e["event"] == "chat_created")
            assert (announced["chat_id"], announced["data"]["unread_mentions"]) == (created, 0)
