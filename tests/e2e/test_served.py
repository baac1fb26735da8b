"""The served API end to end: real Hypercorn, real sockets, httpx and trio-websocket clients.

Policy: see ``conftest.py``. Each test drives the server only through its wire API
(docs/API.md) and asserts on what a client would see.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import trio
import trio_websocket

from tests.harness.clients import WAIT_S, is_event, next_event, wait_closed
from tests.harness.served_app import ServedApp, served_app, served_settings


async def test_two_users_see_messages_presence_and_reads(tmp_path: Path) -> None:
    # A short presence grace, so that bob's going offline is seen here without a long wait.
    async with served_app(served_settings(tmp_path, presence_grace_s=0.2)) as server:
        chat_id = await server.new_chat("alice", "bob")
        async with server.socket(f"/ws/{chat_id}?user_id=alice") as alice:
            async with server.socket(f"/ws/{chat_id}?user_id=bob") as bob:
                # alice sees bob come online (whatever order the subscriptions landed in).
                await next_event(
                    alice, is_event("presence_updated", user_id="bob", status="online")
                )
                sent = await server.post(chat_id, "alice", "hi bob")
                for ws in (alice, bob):
                    event = await next_event(ws, is_event("message_received"))
                    assert event["data"] == sent
                response = await server.http.post(f"/chats/{chat_id}/read", json={"user_id": "bob"})
                assert response.json()["last_read_seq"] == 1
                for ws in (alice, bob):
                    event = await next_event(ws, is_event("chat_read"))
                    assert event["data"] == {
                        "chat_id": chat_id,
                        "user_id": "bob",
                        "last_read_message_id": sent["id"],
                        "last_read_seq": 1,
                    }
            # bob's socket closed: once his grace is over, alice sees him go offline.
            await next_event(alice, is_event("presence_updated", user_id="bob", status="offline"))
            presence = (await server.http.get(f"/chats/{chat_id}/presence")).json()
            assert {p["user_id"]: p["status"] for p in presence} == {
                "alice": "online",
                "bob": "offline",
                "bot_user": "offline",
            }


async def test_bot_answers_a_human_message(tmp_path: Path) -> None:
    settings = served_settings(
        tmp_path, bot_enabled=True, bot_delay_min_s=0.0, bot_delay_max_s=0.0, bot_seed=3
    )
    async with served_app(settings) as server:
        chat_id = await server.new_chat("alice", "bob")
        async with server.socket(f"/ws/{chat_id}?user_id=alice") as alice:
            await next_event(alice, is_event("presence_updated", user_id="alice"))
            await server.post(chat_id, "alice", "hello bot")
            seen: list[dict[str, Any]] = []
            reply = await next_event(
                alice, is_event("message_received", user_id="bot_user"), seen=seen
            )
            await next_event(
                alice, is_event("presence_updated", user_id="bot_user", status="offline"), seen=seen
            )
    bot_steps = [
        (e["event"], e["data"].get("status"))
        for e in seen
        if e["data"].get("user_id") == "bot_user"
    ]
    assert bot_steps[:3] == [
        ("presence_updated", "online"),
        ("chat_read", None),
        ("presence_updated", "typing"),
    ]
    assert reply["data"]["seq"] == 2


async def test_resume_after_seq_while_others_post_has_no_gap_and_no_duplicate(
    server: ServedApp,
) -> None:
    posters, per_poster, before = 4, 25, 20
    chat_id = await server.new_chat("alice", "bob", "carol", "dave")
    for i in range(before):
        await server.post(chat_id, "alice", f"before {i}")
    some_posted = trio.Event()
    posted = 0

    async def poster(user: str) -> None:
        nonlocal posted
        for i in range(per_poster):
            await server.post(chat_id, user, f"{user} {i}")
            posted += 1
            if posted >= posters * 2:
                some_posted.set()

    seqs: list[int] = []
    async with trio.open_nursery() as nursery:
        for user in ("alice", "bob", "carol", "dave"):
            nursery.start_soon(poster, user)
        with trio.fail_after(WAIT_S):
            await some_posted.wait()
        async with server.socket(f"/ws/{chat_id}?user_id=bob&after_seq={before}") as ws:
            last = before + posters * per_poster
            while not seqs or seqs[-1] < last:
                event = await next_event(ws, is_event("message_received"))
                seqs.append(event["data"]["seq"])
    assert seqs == list(range(before + 1, last + 1))
    info = (await server.http.get(f"/chats/{chat_id}")).json()
    assert info["last_seq"] == last


async def test_after_seq_beyond_the_replay_limit_sends_resync_required_first(
    tmp_path: Path,
) -> None:
    async with served_app(served_settings(tmp_path, max_replay=5)) as server:
        chat_id = await server.new_chat("alice", "bob")
        for i in range(10):
            await server.post(chat_id, "alice", f"m{i}")
        async with server.socket(f"/ws/{chat_id}?after_seq=2") as ws:
            with trio.fail_after(WAIT_S):
                first = orjson.loads(await ws.get_message())
            assert first == {
                "event": "resync_required",
                "data": {"chat_id": chat_id, "after_seq": 2, "latest_seq": 10},
            }
            # Live events follow on the same socket.
            sent = await server.post(chat_id, "bob", "live")
            event = await next_event(ws, is_event("message_received"))
            assert event["data"] == sent


async def test_after_seq_within_the_replay_limit_replays_then_goes_live(tmp_path: Path) -> None:
    async with served_app(served_settings(tmp_path, max_replay=5)) as server:
        chat_id = await server.new_chat("alice", "bob")
        for i in range(10):
            await server.post(chat_id, "alice", f"m{i}")
        async with server.socket(f"/ws/{chat_id}?after_seq=5") as ws:
            replayed = [(await next_event(ws))["data"]["seq"] for _ in range(5)]
            await server.post(chat_id, "bob", "live")
            live = await next_event(ws)
    assert replayed == [6, 7, 8, 9, 10]
    assert live["data"]["seq"] == 11


async def test_unknown_chat_socket_is_closed_with_4404(server: ServedApp) -> None:
    async with server.socket("/ws/no-such-chat") as ws:
        reason = await wait_closed(ws)
    assert reason.code == 4404


async def test_client_frames_are_ignored_and_the_socket_stays_open(server: ServedApp) -> None:
    chat_id = await server.new_chat("alice", "bob")
    async with server.socket(f"/ws/{chat_id}") as ws:
        for frame in ("hello", '{"op": "send", "content": "x"}', "[1, 2", ""):
            await ws.send_message(frame)
        await ws.send_message(b"\x00\x01binary")
        sent = await server.post(chat_id, "alice", "still there?")
        event = await next_event(ws)
        assert event == {"event": "message_received", "data": sent}
        assert not ws.closed
    messages = (await server.http.get(f"/chats/{chat_id}/messages")).json()
    assert messages == [sent]


async def _v1_frame(ws: trio_websocket.WebSocketConnection) -> list[dict[str, Any]]:
    with trio.fail_after(WAIT_S):
        frame = orjson.loads(await ws.get_message())
    assert isinstance(frame, list)
    return frame


async def _v1_answer(ws: trio_websocket.WebSocketConnection, ref: str) -> dict[str, Any]:
    """The ack or error for ``ref``, skipping the live events that share the socket."""
    while True:
        for event in await _v1_frame(ws):
            if event["event"] in {"ack", "error"} and event["data"]["ref"] == ref:
                return event


async def test_v1_commands_are_acked_and_a_bad_one_gets_an_error(server: ServedApp) -> None:
    chat_id = await server.new_chat("alice", "bob")
    async with server.socket(f"/ws/{chat_id}?user_id=alice", subprotocols=["chatactors.v1"]) as ws:
        assert ws.subprotocol == "chatactors.v1"
        [hello, *_] = await _v1_frame(ws)
        assert hello == {
            "event": "subscribed",
            "data": {"chat_id": chat_id, "user_id": "alice", "latest_seq": 0, "latest_pos": 0},
        }
        send = {
            "op": "send",
            "ref": "r1",
            "type": "text",
            "content": "hi",
            "client_message_id": "c1",
        }
        await ws.send_message(orjson.dumps(send).decode())
        ack = await _v1_answer(ws, "r1")
        assert ack["event"] == "ack"
        message = ack["data"]["message"]
        assert (message["seq"], message["content"], message["client_message_id"]) == (1, "hi", "c1")

        await ws.send_message(orjson.dumps({"op": "presence", "ref": "r2", "status": "typing"}))
        assert (await _v1_answer(ws, "r2"))["event"] == "ack"

        await ws.send_message(orjson.dumps({"op": "read", "ref": "r3"}).decode())
        read = await _v1_answer(ws, "r3")
        assert read["data"] == {
            "ref": "r3",
            "last_read_message_id": message["id"],
            "last_read_seq": 1,
        }

        for ref, bad in [
            ("r4", {"op": "explode", "ref": "r4"}),
            ("r5", {"op": "presence", "ref": "r5", "status": "asleep"}),
            ("r6", {"op": "send", "ref": "r6", "content": 42}),
        ]:
            await ws.send_message(orjson.dumps(bad).decode())
            error = await _v1_answer(ws, ref)
            assert error["event"] == "error"
            assert error["data"]["status"] == 422
        await ws.send_message("not json")
        while True:
            events = await _v1_frame(ws)
            if any(e["event"] == "error" and e["data"]["ref"] is None for e in events):
                break

        # Still open and still working; the retried client id is the same message.
        await ws.send_message(orjson.dumps({**send, "ref": "r7"}).decode())
        again = await _v1_answer(ws, "r7")
        assert again["data"]["message"] == message
    messages = (await server.http.get(f"/chats/{chat_id}/messages")).json()
    assert messages == [message]


async def test_v1_frames_carry_live_events_as_arrays(server: ServedApp) -> None:
    chat_id = await server.new_chat("alice", "bob")
    async with server.socket(f"/ws/{chat_id}", subprotocols=["chatactors.v1"]) as ws:
        await _v1_frame(ws)  # subscribed
        sent = [await server.post(chat_id, "bob", f"m{i}") for i in range(3)]
        received: list[dict[str, Any]] = []
        while len(received) < 3:
            received.extend(
                e["data"] for e in await _v1_frame(ws) if e["event"] == "message_received"
            )
    assert received == sent


async def test_rest_send_with_a_client_message_id_twice_makes_one_message(
    server: ServedApp,
) -> None:
    chat_id = await server.new_chat("alice", "bob")
    async with server.socket(f"/ws/{chat_id}") as ws:
        first = await server.post(chat_id, "alice", "once", client_message_id="k-1")
        second = await server.post(chat_id, "alice", "once", client_message_id="k-1")
        marker = await server.post(chat_id, "alice", "after")
        broadcast = [(await next_event(ws))["data"] for _ in range(2)]
    assert second == first
    assert first["client_message_id"] == "k-1"
    assert broadcast == [first, marker]
    assert (await server.http.get(f"/chats/{chat_id}/messages")).json() == [first, marker]


async def test_rest_pages_follow_limit_before_seq_and_after_seq(server: ServedApp) -> None:
    chat_id = await server.new_chat("alice", "bob")
    for i in range(10):
        await server.post(chat_id, "alice", f"m{i}")

    async def seqs(query: str) -> list[int]:
        response = await server.http.get(f"/chats/{chat_id}/messages{query}")
        assert response.status_code == 200, response.text
        return [m["seq"] for m in response.json()]

    assert await seqs("") == list(range(1, 11))
    assert await seqs("?limit=3") == [8, 9, 10]
    assert await seqs("?before_seq=5&limit=2") == [3, 4]
    assert await seqs("?after_seq=7") == [8, 9, 10]
    assert await seqs("?after_seq=2&limit=3") == [3, 4, 5]
    assert await seqs("?after_seq=2&before_seq=6&limit=10") == [3, 4, 5]


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=-1", "limit=abc", "limit=10001", "before_seq=-1", "after_seq=x"],
)
async def test_rest_page_with_a_bad_value_is_422(server: ServedApp, query: str) -> None:
    chat_id = await server.new_chat("alice", "bob")
    response = await server.http.get(f"/chats/{chat_id}/messages?{query}")
    assert response.status_code == 422
    assert "detail" in response.json()


async def test_server_shutdown_closes_sockets_with_1001_after_committing(tmp_path: Path) -> None:
    settings = served_settings(tmp_path)
    async with served_app(settings) as server:
        chat_id = await server.new_chat("alice", "bob")
        sent = await server.post(chat_id, "alice", "before shutdown")
        async with server.socket(f"/ws/{chat_id}?user_id=bob") as ws:
            await next_event(ws, is_event("presence_updated", user_id="bob"))
            server.stop()
            reason = await wait_closed(ws)
    assert reason.code == 1001
    async with served_app(settings) as server:
        messages = (await server.http.get(f"/chats/{chat_id}/messages")).json()
    assert messages == [sent]
