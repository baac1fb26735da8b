"""WS /ws/<chat_id> over ASGI events in process (the transport Hypercorn drives): refusals,
events, ignored frames, v1 commands, cleanup after a disconnect."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import orjson
import pytest
import trio
import trio.testing
from quart.typing import TestClientProtocol as Client

from tests.conftest import make_settings
from tests.harness.asgi_socket import AsgiTestSocket, open_socket

ChatFactory = Callable[..., Awaitable[str]]
V1 = "chatactors.v1"


def open_v1_socket(client: Client, chat_id: str) -> AbstractAsyncContextManager[AsgiTestSocket]:
    """Alice's chatactors.v1 socket on the chat."""
    return open_socket(client.app, f"/ws/{chat_id}?user_id=alice", subprotocols=(V1,))


async def next_v1_event(ws: AsgiTestSocket, kind: str) -> dict[str, Any]:
    """The next event named ``kind`` in the socket's array frames (others are dropped)."""
    while True:
        frame = await ws.receive_json()
        assert isinstance(frame, list)
        for event in frame:
            if event["event"] == kind:
                found: dict[str, Any] = event
                return found


async def test_unknown_chat_is_closed_with_4404(client: Client) -> None:
    async with open_socket(client.app, "/ws/does-not-exist") as ws:
        assert await ws.close_code() == 4404


async def test_non_participant_user_is_closed_with_4403(
    client: Client, chat_id_for: ChatFactory
) -> None:
    chat_id = await chat_id_for()
    async with open_socket(client.app, f"/ws/{chat_id}?user_id=eve") as ws:
        assert await ws.close_code() == 4403


async def test_bad_after_seq_is_closed_with_4422(client: Client, chat_id_for: ChatFactory) -> None:
    chat_id = await chat_id_for()
    async with open_socket(client.app, f"/ws/{chat_id}?after_seq=soon") as ws:
        assert await ws.close_code() == 4422


async def test_events_reach_the_socket_and_client_frames_are_ignored(
    client: Client, chat_id_for: ChatFactory
) -> None:
    chat_id = await chat_id_for()
    async with open_socket(client.app, f"/ws/{chat_id}") as ws:
        await ws.send("raw text the reference ignored")
        await ws.send('{"type": "typing", "user_id": "alice"}')
        await client.post(f"/chats/{chat_id}/messages",
                          json={"user_id": "alice", "type": "text", "content": "hi"})  # fmt: skip
        event = await ws.receive_json()
        assert event["event"] == "message_received"
        assert event["data"]["content"] == "hi"
        await client.post(f"/chats/{chat_id}/presence",
                          json={"user_id": "bob", "status": "typing"})  # fmt: skip
        assert (await ws.receive_json())["event"] == "presence_updated"
        await client.post(f"/chats/{chat_id}/read", json={"user_id": "bob"})
        read = await ws.receive_json()
        assert read["event"] == "chat_read"
        assert read["data"]["user_id"] == "bob"


@pytest.mark.parametrize("app_settings", [make_settings(presence_grace_s=0)])
async def test_socket_with_user_marks_online_and_offline_on_close(
    client: Client, chat_id_for: ChatFactory
) -> None:
    chat_id = await chat_id_for()
    async with open_socket(client.app, f"/ws/{chat_id}?user_id=alice") as ws:
        online = await ws.receive_json()
        assert online["data"] == {**online["data"], "user_id": "alice", "status": "online"}
    # The handler unsubscribes as it ends; once every task is blocked, that has happened.
    await trio.testing.wait_all_tasks_blocked()
    presence = await (await client.get(f"/chats/{chat_id}/presence")).get_json()
    assert presence[0]["status"] == "offline"


@pytest.mark.parametrize("app_settings", [make_settings(presence_grace_s=600)])
async def test_a_reload_within_the_grace_shows_others_no_offline(
    client: Client, chat_id_for: ChatFactory
) -> None:
    chat_id = await chat_id_for()
    async with open_socket(client.app, f"/ws/{chat_id}?user_id=bob") as bob:
        assert (await bob.receive_json())["data"]["user_id"] == "bob"
        for _ in range(2):  # alice's page, then the same page reloaded
            async with open_socket(client.app, f"/ws/{chat_id}?user_id=alice"):
                await trio.testing.wait_all_tasks_blocked()  # subscribed
            await trio.testing.wait_all_tasks_blocked()  # unsubscribed
            presence = await (await client.get(f"/chats/{chat_id}/presence")).get_json()
            assert presence[0] == {**presence[0], "user_id": "alice", "status": "online"}
        await client.post(f"/chats/{chat_id}/messages",
                          json={"user_id": "bob", "type": "text", "content": "hi"})  # fmt: skip
        # bob saw alice come online once, then the message: no offline/online in between.
        seen = [await bob.receive_json() for _ in range(2)]
        assert [(e["event"], e["data"].get("status")) for e in seen] == [
            ("presence_updated", "online"), ("message_received", None)
        ]  # fmt: skip


async def test_resume_after_seq_replays_missed_messages(
    client: Client, chat_id_for: ChatFactory
) -> None:
    chat_id = await chat_id_for()
    for text in ("a", "b", "c"):
        await client.post(f"/chats/{chat_id}/messages",
                          json={"user_id": "alice", "type": "text", "content": text})  # fmt: skip
    async with open_socket(client.app, f"/ws/{chat_id}?after_seq=1") as ws:
        assert [(await ws.receive_json())["data"]["seq"] for _ in range(2)] == [2, 3]


async def test_v1_subprotocol_commands_and_array_frames(
    client: Client, chat_id_for: ChatFactory
) -> None:
    async with open_v1_socket(client, await chat_id_for()) as ws:
        assert ws.subprotocol == V1
        events: list[dict[str, Any]] = []

        async def next_event(kind: str) -> dict[str, Any]:
            while True:
                while events:
                    event = events.pop(0)
                    if event["event"] == kind:
                        return event
                frame = await ws.receive_json()
                assert isinstance(frame, list)
                events.extend(frame)

        assert (await next_event("subscribed"))["data"]["latest_seq"] == 0
        await ws.send(orjson.dumps({"op": "send", "ref": "r1", "type": "text", "content": "v1!",
                                    "client_message_id": "c1"}))  # fmt: skip
        ack = await next_event("ack")
        assert ack["data"]["ref"] == "r1"
        assert ack["data"]["message"]["seq"] == 1
        await ws.send(b'{"op": "presence", "ref": "r2", "status": "typing"}')
        assert (await next_event("ack"))["data"] == {"ref": "r2", "status": "typing"}
        await ws.send(b'{"op": "read", "ref": "r3"}')
        assert (await next_event("ack"))["data"]["last_read_seq"] == 1
        await ws.send(b'{"op": "fly", "ref": "r4"}')
        error = await next_event("error")
        assert (error["data"]["ref"], error["data"]["status"]) == ("r4", 422)
        await ws.send(b"not json at all")
        assert (await next_event("error"))["data"]["status"] == 422
        # The socket is still open and serving.
        await ws.send(b'{"op": "send", "ref": "r5", "content": "still here"}')
        assert (await next_event("ack"))["data"]["message"]["seq"] == 2


async def test_v1_text_that_is_not_valid_unicode_gets_a_422_and_the_socket_stays_open(
    client: Client, chat_id_for: ChatFactory
) -> None:
    chat_id = await chat_id_for()
    async with open_v1_socket(client, chat_id) as ws:
        assert (await ws.receive_json())[0]["event"] == "subscribed"
        bad_frames: list[str | bytes] = [
            '{"op": "send", "ref": "s1", "content": "\\ud800"}',  # a lone surrogate, escaped
            '{"op": "send", "ref": "s2", "content": "\ud800"}',  # one that reached a str
            b'{"op": "send", "ref": "s3", "content": "caf\xc3"}',  # invalid UTF-8
            b'{"op": "send", "ref": "s4", "content": "\xed\xa0\x80"}',  # a surrogate as UTF-8
        ]
        for frame in bad_frames:
            await ws.send(frame)
            assert (await next_v1_event(ws, "error"))["data"]["status"] == 422
        await ws.send('{"op": "send", "ref": "ok", "content": "still here"}')
        assert (await next_v1_event(ws, "ack"))["data"]["ref"] == "ok"
    history = await (await client.get(f"/chats/{chat_id}/messages")).get_json()
    assert [m["content"] for m in history] == ["still here"]
