"""Messages that change, over real sockets: the v1 ops, ``message_updated`` with its ``pos``,
reference sockets that never see it, and resuming by position with each change exactly once.

Policy: the real app on a real Hypercorn (127.0.0.1, port 0), SQLite in ``tmp_path``, the bot
off; every wait is for a frame the test expects, bounded (``clients.WAIT_S``). A socket that
must have missed something is closed before the changes are made; what it gets on resuming is
then checked whole, up to a marker message sent last (so nothing extra can hide behind a wait).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import orjson
import trio

from tests.harness.chat_client import ChatClient, Event, logged
from tests.harness.clients import WAIT_S, wait_closed
from tests.harness.served_app import ServedApp, served_app, served_settings
from tests.harness.user_client import V1, UserClient


@asynccontextmanager
async def v1_socket(server: ServedApp, chat_id: str, query: str = "") -> AsyncIterator[ChatClient]:
    async with server.socket(f"/ws/{chat_id}?{query}", subprotocols=V1) as ws:
        client = ChatClient(ws)
        await client.subscribed()
        yield client


async def test_v1_ops_are_acked_with_the_message_and_others_get_message_updated(
    server: ServedApp,
) -> None:
    chat_id = await server.new_chat("alice", "bob")
    async with (
        v1_socket(server, chat_id, "user_id=alice") as alice,
        v1_socket(server, chat_id, "user_id=bob") as bob,
        server.socket(f"/ws/{chat_id}") as reference,
    ):
        assert alice.hello["data"]["latest_pos"] == 0
        sent = await alice.command(op="send", ref="1", type="text", content="helo")
        message = sent["data"]["message"]
        replied = await bob.command(op="send", ref="2", type="text", content="re",
                                    reply_to=message["id"])  # fmt: skip
        assert replied["data"]["message"]["reply_to"] == message["id"]
        edit = await alice.command(op="edit", ref="3", message_id=message["id"], content="hello")
        assert edit["event"] == "ack"
        assert edit["data"]["message"]["content"] == "hello"
        react = await bob.command(op="react", ref="4", message_id=message["id"], emoji="👍")
        assert react["data"]["message"]["reactions"] == {"👍": ["bob"]}
        unreact = await bob.command(op="unreact", ref="5", message_id=message["id"], emoji="👍")
        assert unreact["data"]["message"]["reactions"] == {}
        delete = await alice.command(op="delete", ref="6", message_id=message["id"])
        assert delete["data"]["message"]["deleted"] is True
        errors = [
            await bob.command(op="edit", ref="e1", message_id=message["id"], content="x"),
            await bob.command(op="react", ref="e2", message_id=message["id"], emoji="👍"),
            await bob.command(op="react", ref="e3", message_id="nope", emoji="👍"),
            await bob.command(op="react", ref="e4", message_id=message["id"], emoji="ab"),
            await bob.command(op="delete", ref="e5"),
            await bob.command(op="edit", ref="e6", message_id=message["id"], content=5),
            await bob.command(op="send", ref="e7", type="text", content="x", reply_to="nope"),
        ]
        assert [(e["event"], e["data"]["status"]) for e in errors] == [
            ("error", 403), ("error", 409), ("error", 404), ("error", 422), ("error", 422),
            ("error", 422), ("error", 422),
        ]  # fmt: skip
        await alice.command(op="send", ref="7", type="text", content="marker")
        expected = [
            ("message_received", 1, 1), ("message_received", 2, 2), ("message_updated", 3, 1),
            ("message_updated", 4, 1), ("message_updated", 5, 1), ("message_updated", 6, 1),
            ("message_received", 7, 3),
        ]  # fmt: skip
        for client in (alice, bob):
            events = await client.until("marker")
            assert logged(events) == expected
            updates = [e for e in events if e["event"] == "message_updated"]
            assert set(updates[0]) == {"event", "data", "pos"}
            assert updates[-1]["data"]["deleted"] is True
        # The reference socket: the reference's frames only, without "pos".
        seen = []
        while True:
            with trio.fail_after(WAIT_S):
                frame = orjson.loads(await reference.get_message())
            seen.append(frame)
            if frame["event"] == "message_received" and frame["data"]["content"] == "marker":
                break
        assert {frame["event"] for frame in seen} <= {"message_received", "presence_updated"}
        assert [f["data"]["seq"] for f in seen if f["event"] == "message_received"] == [1, 2, 3]
        assert all(set(frame) == {"event", "data"} for frame in seen)


async def _changes_while_away(server: ServedApp, chat_id: str, message_id: str) -> None:
    """An edit, a reaction, a new message, a delete (of the earlier message), over REST."""
    http = server.http
    edited = await http.patch(f"/chats/{chat_id}/messages/{message_id}",
                              json={"user_id": "alice", "content": "edited"})  # fmt: skip
    assert edited.status_code == 200, edited.text
    reacted = await http.put(f"/chats/{chat_id}/messages/{message_id}/reactions/{quote('🎉')}",
                             json={"user_id": "bob"})  # fmt: skip
    assert reacted.status_code == 200, reacted.text
    await server.post(chat_id, "bob", "while away")
    deleted = await http.delete(f"/chats/{chat_id}/messages/{message_id}?user_id=alice")
    assert deleted.status_code == 200, deleted.text


EXPECTED_AFTER_2 = [
    ("message_updated", 3, 1), ("message_updated", 4, 1), ("message_received", 5, 3),
    ("message_updated", 6, 1), ("message_received", 7, 4),
]  # fmt: skip


async def test_a_chat_socket_resumes_after_pos_with_each_change_once(server: ServedApp) -> None:
    chat_id = await server.new_chat("alice", "bob")
    async with v1_socket(server, chat_id, "user_id=bob") as bob:
        first = await server.post(chat_id, "alice", "first")
        await server.post(chat_id, "bob", "second")
        seen = logged(await bob.until("second"))
    last_pos = seen[-1][1]
    assert last_pos == 2
    await _changes_while_away(server, chat_id, first["id"])
    async with v1_socket(server, chat_id, f"user_id=bob&after_pos={last_pos}") as bob:
        assert bob.hello["data"]["latest_pos"] == 6
        await server.post(chat_id, "alice", "marker")
        events = await bob.until("marker")
    assert logged(events) == EXPECTED_AFTER_2
    # Replayed changes carry the message as it is now: its text is gone.
    assert all(e["data"]["deleted"] for e in events if e["data"].get("id") == first["id"])


def is_marker(event: Event) -> bool:
    return bool(event["event"] == "message_received" and event["data"]["content"] == "marker")


async def test_a_user_socket_resumes_from_pos_with_each_change_once(server: ServedApp) -> None:
    chat_id = await server.new_chat("alice", "bob")
    first = await server.post(chat_id, "alice", "first")
    await server.post(chat_id, "bob", "second")
    await _changes_while_away(server, chat_id, first["id"])
    async with server.socket("/ws?user_id=bob", subprotocols=V1) as ws:
        bob = UserClient(ws)
        ready = await bob.ready()
        assert (ready["chats"][chat_id], ready["latest_pos"][chat_id]) == (3, 6)
        await bob.command(op="resume", ref="r", positions={chat_id: {"pos": 2}})
        events: list[Event] = []
        ack = await bob.next(lambda e: e["event"] == "ack", seen=events)
        assert ack["data"] == {"ref": "r", "replayed": {chat_id: 4}, "resync": [], "unknown": []}
        await server.post(chat_id, "alice", "marker")
        events.append(await bob.next(is_marker, seen=events))
    replayed = [e for e in events if e["event"] in ("message_received", "message_updated")]
    assert [(e["event"], e["pos"], e["data"]["seq"]) for e in replayed] == EXPECTED_AFTER_2
    assert all(e["chat_id"] == chat_id for e in replayed)


async def test_resume_positions_are_checked(server: ServedApp) -> None:
    chat_id = await server.new_chat("alice", "bob")
    async with server.socket("/ws?user_id=bob", subprotocols=V1) as ws:
        bob = UserClient(ws)
        await bob.ready()
        for n, bad in enumerate([{"pos": -1}, {"pos": "1"}, {"seq": 1}, {"pos": 1, "x": 2}, [1]]):
            await bob.command(op="resume", ref=f"r{n}", positions={chat_id: bad})
            answer = await bob.answer(f"r{n}")
            assert (answer["event"], answer["data"]["status"]) == ("error", 422), bad


async def test_after_pos_is_for_v1_sockets_only(server: ServedApp) -> None:
    chat_id = await server.new_chat("alice", "bob")
    for query in ("after_pos=0", "after_pos=-1", "after_pos=x"):
        async with server.socket(f"/ws/{chat_id}?{query}") as ws:
            assert (await wait_closed(ws)).code == 4422
    async with server.socket(f"/ws/{chat_id}?after_pos=0&after_seq=0", subprotocols=V1) as ws:
        assert (await wait_closed(ws)).code == 4422


async def test_an_emoji_in_the_path_is_percent_encoded_utf8(server: ServedApp) -> None:
    chat_id = await server.new_chat("alice", "bob")
    message = await server.post(chat_id, "alice", "hi")
    base = f"/chats/{chat_id}/messages/{message['id']}/reactions/"
    for emoji in ["👍🏽", "🇫🇷", "👨‍👩‍👧", ":+1:"]:
        response = await server.http.put(base + quote(emoji, safe=""), json={"user_id": "bob"})
        assert response.status_code == 200, response.text
    final = await server.http.delete(base + quote(":+1:", safe="") + "?user_id=bob")
    assert list(final.json()["message"]["reactions"]) == ["👍🏽", "🇫🇷", "👨‍👩‍👧"]


async def test_a_resume_by_pos_beyond_the_bound_asks_for_a_resync(tmp_path: Path) -> None:
    async with served_app(served_settings(tmp_path, max_replay=3)) as server:
        chat_id = await server.new_chat("alice", "bob")
        message = await server.post(chat_id, "alice", "one")
        for emoji in ("👍", "🎉", "😄"):
            reaction = f"/chats/{chat_id}/messages/{message['id']}/reactions/{quote(emoji)}"
            assert (await server.http.put(reaction, json={"user_id": "bob"})).status_code == 200
        async with v1_socket(server, chat_id, "user_id=bob&after_pos=0") as bob:
            resync = await bob.next()
        assert resync == {
            "event": "resync_required",
            "data": {"chat_id": chat_id, "after_seq": None, "latest_seq": 1, "after_pos": 0,
                     "latest_pos": 4},
        }  # fmt: skip
        async with server.socket("/ws?user_id=bob", subprotocols=V1) as ws:
            user = UserClient(ws)
            await user.ready()
            await user.command(op="resume", ref="r", positions={chat_id: {"pos": 0}})
            event = await user.next(lambda e: e["event"] == "resync")
            ack = await user.answer("r")
        assert event == {"event": "resync", "chat_id": chat_id,
                         "data": {"after_pos": 0, "latest_pos": 4, "latest_seq": 1}}  # fmt: skip
        assert ack["data"]["resync"] == [chat_id]
