"""Changes survive a server restart: a client away while a message was edited, reacted to and
deleted resumes by position from a new process and gets each change once, in order; and the
deleted text is in no file of the data directory once the server has stopped (its words not in
the search index either, even when the server that deleted it was killed).

Policy: see ``conftest.py`` (a real ``chatactors serve`` over SQLite in ``tmp_path``, every wait
bounded). The server is stopped with SIGTERM (graceful); a second process serves the same
directory.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import trio

from tests.harness.chat_client import ChatClient, Event, logged
from tests.harness.server_process import START_S, ServerProcess, open_server_process
from tests.harness.user_client import V1, UserClient

pytestmark = pytest.mark.slow

SECRET = "the launch code is 0000-kept-secret"


async def _post(server: ServerProcess, chat_id: str, user: str, content: str) -> dict[str, Any]:
    async with server.http() as http:
        body = {"user_id": user, "type": "text", "content": content}
        response = await http.post(f"/chats/{chat_id}/messages", json=body)
    response.raise_for_status()
    message: dict[str, Any] = response.json()["message"]
    return message


def _files_holding(data_dir: Path, needle: bytes) -> list[str]:
    return [p.name for p in data_dir.rglob("*") if p.is_file() and needle in p.read_bytes()]


def _is_marker(event: Event) -> bool:
    return bool(event["event"] == "message_received" and event["data"]["content"] == "marker")


async def test_resuming_by_pos_after_a_restart_gets_each_change_once(data_dir: Path) -> None:
    with trio.fail_after(3 * START_S):
        async with open_server_process(data_dir=data_dir) as server:
            async with server.http() as http:
                created = await http.post("/chats", json={"participants": ["alice", "bob"]})
                chat_id = created.json()["chat_id"]
                secret = await _post(server, chat_id, "alice", SECRET)
                await _post(server, chat_id, "bob", "second")
                seen_pos = (await http.get(f"/chats/{chat_id}")).json()["last_pos"]
                # Bob is away from here on.
                message = f"/chats/{chat_id}/messages/{secret['id']}"
                edited = await http.patch(
                    message, json={"user_id": "alice", "content": SECRET + "!"}
                )
                reacted = await http.put(
                    f"{message}/reactions/{quote('👍')}", json={"user_id": "bob"}
                )
                await _post(server, chat_id, "bob", "while away")
                deleted = await http.delete(f"{message}?user_id=alice")
            assert [r.status_code for r in (edited, reacted, deleted)] == [200, 200, 200]
            assert await server.terminate() == 0
        assert _files_holding(data_dir, b"launch code") == []
        assert _files_holding(data_dir, b"while away") != []

        async with open_server_process(data_dir=data_dir) as server:
            async with server.socket(
                f"/ws/{chat_id}?user_id=bob&after_pos={seen_pos}", subprotocols=V1
            ) as ws:
                per_chat = ChatClient(ws)
                assert (await per_chat.subscribed())["data"]["latest_pos"] == 6
                await _post(server, chat_id, "alice", "marker")
                chat_events = await per_chat.until("marker")
            async with server.socket("/ws?user_id=bob", subprotocols=V1) as ws:
                user = UserClient(ws)
                await user.ready()
                await user.command(op="resume", ref="r", positions={chat_id: {"pos": seen_pos}})
                user_events: list[Event] = []
                ack = await user.next(lambda e: e["event"] == "ack", seen=user_events)
                await _post(server, chat_id, "alice", "marker")
                user_events.append(await user.next(_is_marker, seen=user_events))

    expected_replay = [
        ("message_updated", 3, 1), ("message_updated", 4, 1), ("message_received", 5, 3),
        ("message_updated", 6, 1),
    ]  # fmt: skip
    first_marker = ("message_received", 7, 4)
    assert logged(chat_events) == [*expected_replay, first_marker]
    assert ack["data"]["replayed"] == {chat_id: 5}
    assert logged(user_events) == [*expected_replay, first_marker, ("message_received", 8, 5)]
    # Each replayed change shows the message as it is now: deleted, without its text.
    for event in chat_events + user_events:
        if event["event"] == "message_updated":
            assert (event["data"]["deleted"], event["data"]["content"]) == (True, "")


async def test_a_server_killed_after_a_delete_leaves_its_words_to_the_next_start(
    data_dir: Path,
) -> None:
    """The store merges the search index when it closes; a server killed before it could
    leaves a deleted message's words in older index segments, and the next start merges them
    (the next stop then empties the write-ahead log: the words are in no file)."""
    with trio.fail_after(3 * START_S):
        async with open_server_process(data_dir=data_dir) as server:
            async with server.http() as http:
                created = await http.post("/chats", json={"participants": ["alice", "bob"]})
                chat_id = created.json()["chat_id"]
                for number in range(20):
                    await _post(server, chat_id, "bob", f"filler {number}")
                secret = await _post(server, chat_id, "alice", "xylophonequartz stays? no")
                found = await http.get("/search", params={"user_id": "bob", "q": "xylophone*"})
                assert [hit["message"]["id"] for hit in found.json()["results"]] == [secret["id"]]
                deleted = await http.delete(
                    f"/chats/{chat_id}/messages/{secret['id']}?user_id=alice"
                )
                assert deleted.status_code == 200
            await server.kill()
        assert await trio.to_thread.run_sync(_unpurged_removals, data_dir) == 1
        async with open_server_process(data_dir=data_dir) as server:
            async with server.http() as http:
                found = await http.get("/search", params={"user_id": "bob", "q": "xylophone*"})
                assert found.json()["results"] == []
            await server.kill()  # not even a graceful stop: the start merged it already
        assert await trio.to_thread.run_sync(_unpurged_removals, data_dir) == 0
        assert await trio.to_thread.run_sync(_index_holds, data_dir, b"xylophonequartz") is False
        async with open_server_process(data_dir=data_dir) as server:
            assert await server.terminate() == 0
    assert _files_holding(data_dir, b"xylophonequartz") == []


def _unpurged_removals(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "chatactors.sqlite3") as conn:
        (count,) = conn.execute("SELECT unpurged FROM search_state").fetchone()
    return int(count)


def _index_holds(data_dir: Path, word: bytes) -> bool:
    with sqlite3.connect(data_dir / "chatactors.sqlite3") as conn:
        blocks = conn.execute("SELECT block FROM message_search_data").fetchall()
    return any(word in bytes(block) for (block,) in blocks)
