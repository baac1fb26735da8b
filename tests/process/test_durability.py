"""Nothing acknowledged is lost, however the server process ends (SIGKILL or SIGTERM).

Policy: see ``conftest.py``. Concurrent posters record every 200 they get; the process is
stopped while they post; a new process on the same data directory must serve every one of those
messages with the same id, seq, timestamp and content, in seq order with no gap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from tests.harness.clients import wait_closed
from tests.harness.server_process import START_S, STOP_S, ServerProcess, open_server_process

pytestmark = pytest.mark.slow

USERS = ("alice", "bob", "carol", "dave")
#: Stop the server once this many posts have been acknowledged.
ACKED_BEFORE_STOP = 40


async def _new_chat(http: httpx.AsyncClient, *users: str) -> str:
    response = await http.post("/chats", json={"participants": list(users)})
    response.raise_for_status()
    chat_id: str = response.json()["chat_id"]
    return chat_id


async def _post_until_refused(
    http: httpx.AsyncClient,
    chat_id: str,
    user: str,
    acked: list[dict[str, Any]],
    enough: trio.Event,
) -> None:
    """Post as ``user`` until the server stops answering 200; record what was acknowledged."""
    for i in range(100_000):
        try:
            response = await http.post(
                f"/chats/{chat_id}/messages",
                json={"user_id": user, "type": "text", "content": f"{user} #{i}"},
            )
        except httpx.TransportError:
            return
        if response.status_code != 200:
            return
        acked.append(response.json()["message"])
        if len(acked) >= ACKED_BEFORE_STOP:
            enough.set()


async def _stored_messages(server: ServerProcess, chat_id: str) -> list[dict[str, Any]]:
    async with server.http() as http:
        response = await http.get(f"/chats/{chat_id}/messages")
    response.raise_for_status()
    messages: list[dict[str, Any]] = response.json()
    return messages


def _assert_all_acknowledged_kept(
    acked: list[dict[str, Any]], stored: list[dict[str, Any]]
) -> None:
    assert len(acked) >= ACKED_BEFORE_STOP
    assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1))
    by_id = {m["id"]: m for m in stored}
    missing = [m for m in acked if by_id.get(m["id"]) != m]
    assert missing == []
    # Each poster's acknowledged messages keep the order they were acknowledged in.
    for user in USERS:
        seqs = [m["seq"] for m in acked if m["user_id"] == user]
        assert seqs == sorted(seqs)


async def test_sigkill_while_posting_loses_no_acknowledged_message(data_dir: Path) -> None:
    acked: list[dict[str, Any]] = []
    async with open_server_process(data_dir=data_dir, bot=True) as server, server.http() as http:
        chat_id = await _new_chat(http, *USERS)
        enough = trio.Event()
        async with trio.open_nursery() as nursery:
            for user in USERS:
                nursery.start_soon(_post_until_refused, http, chat_id, user, acked, enough)
            with trio.fail_after(START_S):
                await enough.wait()
            await server.kill()
    async with open_server_process(data_dir=data_dir) as server:
        stored = await _stored_messages(server, chat_id)
    _assert_all_acknowledged_kept(acked, stored)


async def test_sigterm_while_posting_exits_0_closes_sockets_1001_and_keeps_acks(
    data_dir: Path,
) -> None:
    acked: list[dict[str, Any]] = []
    close_codes: dict[str, int] = {}

    async def watch(
        name: str, server: ServerProcess, path: str, *, task_status: trio.TaskStatus[None]
    ) -> None:
        async with server.socket(path) as ws:
            task_status.started()
            close_codes[name] = (await wait_closed(ws, STOP_S)).code

    async with open_server_process(data_dir=data_dir) as server, server.http() as http:
        chat_id = await _new_chat(http, *USERS)
        enough = trio.Event()
        async with trio.open_nursery() as nursery:
            await nursery.start(watch, "alice", server, f"/ws/{chat_id}?user_id=alice")
            await nursery.start(watch, "anonymous", server, f"/ws/{chat_id}")
            for user in USERS:
                nursery.start_soon(_post_until_refused, http, chat_id, user, acked, enough)
            with trio.fail_after(START_S):
                await enough.wait()
            exit_code = await server.terminate()
    assert exit_code == 0, server.log()
    assert close_codes == {"alice": 1001, "anonymous": 1001}
    async with open_server_process(data_dir=data_dir) as server:
        stored = await _stored_messages(server, chat_id)
    _assert_all_acknowledged_kept(acked, stored)


async def test_restart_after_sigkill_keeps_chat_lists_and_read_marks(data_dir: Path) -> None:

    async def views(http: httpx.AsyncClient, chat_ids: list[str]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for user in ("alice", "bob", "carol"):
            seen[f"chats of {user}"] = (await http.get("/chats", params={"user_id": user})).json()
        for chat_id in chat_ids:
            seen[f"read {chat_id}"] = (await http.get(f"/chats/{chat_id}/read")).json()
        seen["all chats"] = (await http.get("/chats")).json()
        return seen

    async with open_server_process(data_dir=data_dir) as server, server.http() as http:
        first = await _new_chat(http, "alice", "bob")
        second = await _new_chat(http, "alice", "carol")
        for chat_id, user in [(first, "bob"), (second, "carol"), (first, "alice"), (first, "bob")]:
            response = await http.post(
                f"/chats/{chat_id}/messages",
                json={"user_id": user, "type": "text", "content": f"from {user}"},
            )
            response.raise_for_status()
        for chat_id, user in [(first, "alice"), (second, "alice"), (second, "carol")]:
            (await http.post(f"/chats/{chat_id}/read", json={"user_id": user})).raise_for_status()
        response = await http.post(
            f"/chats/{first}/messages",
            json={"user_id": "bob", "type": "text", "content": "unread by alice"},
        )
        response.raise_for_status()
        before = await views(http, [first, second])
        await server.kill()
    async with open_server_process(data_dir=data_dir) as server, server.http() as http:
        after = await views(http, [first, second])
    assert after == before
    alice_chats = after["chats of alice"]
    assert [(c["chat_id"], c["unread_count"]) for c in alice_chats] == [(first, 1), (second, 0)]
    assert after[f"read {first}"]["read_seqs"] == {"alice": 3, "bob": 0, "bot_user": 0}
