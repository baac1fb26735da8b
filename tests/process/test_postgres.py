"""``chatactors serve --store postgres`` as a real process over a real PostgreSQL server.

Policy: see ``conftest.py``; PostgreSQL as in ``tests/pg_server.py`` (the session's server and
a fresh database, or a server of the test's own when the test stops it). "Acknowledged" means an
HTTP 200: each one must be found, unchanged, after the chatactors process is SIGKILLed or
PostgreSQL is stopped and started again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from tests.harness.server_process import START_S, STOP_S, ServerProcess, open_server_process
from tests.pg_server import PgServer, remove_pg_server, start_pg_server

pytestmark = pytest.mark.slow

USERS = ("alice", "bob", "carol", "dave")
POSTS = 300
#: SIGKILL once this many of the concurrent posts have been acknowledged.
ACKED_BEFORE_KILL = 100


def _client(server: ServerProcess) -> httpx.AsyncClient:
    # Room for every concurrent post at once; a request never waits past the server's own
    # request timeout (10 s) plus this margin, so a hang fails the test instead of stalling it.
    limits = httpx.Limits(max_connections=POSTS, max_keepalive_connections=POSTS)
    return httpx.AsyncClient(base_url=server.url, timeout=STOP_S, limits=limits)


async def _new_chat(http: httpx.AsyncClient) -> str:
    response = await http.post("/chats", json={"participants": list(USERS)})
    response.raise_for_status()
    chat_id: str = response.json()["chat_id"]
    return chat_id


async def _messages(http: httpx.AsyncClient, chat_id: str, **params: int) -> list[dict[str, Any]]:
    response = await http.get(f"/chats/{chat_id}/messages", params={"limit": 10_000, **params})
    response.raise_for_status()
    messages: list[dict[str, Any]] = response.json()
    return messages


def _assert_kept(acked: list[dict[str, Any]], stored: list[dict[str, Any]]) -> None:
    """Every acknowledged message is stored as it was acknowledged, in a gapless seq order."""
    assert [m["seq"] for m in stored] == list(range(1, len(stored) + 1))
    by_id = {m["id"]: m for m in stored}
    assert [m for m in acked if by_id.get(m["id"]) != m] == []


async def test_sigkill_after_concurrent_posts_keeps_every_acknowledged_message(
    data_dir: Path, database_url: str
) -> None:
    acked: list[dict[str, Any]] = []
    enough = trio.Event()

    async def post(http: httpx.AsyncClient, chat_id: str, number: int) -> None:
        body = {"user_id": USERS[number % len(USERS)], "type": "text", "content": f"#{number}"}
        try:
            response = await http.post(f"/chats/{chat_id}/messages", json=body)
        except httpx.TransportError:
            return  # in flight when the process died: never acknowledged
        if response.status_code == 200:
            acked.append(response.json()["message"])
            if len(acked) >= ACKED_BEFORE_KILL:
                enough.set()

    async with (
        open_server_process(data_dir=data_dir, database_url=database_url) as server,
        _client(server) as http,
    ):
        chat_id = await _new_chat(http)
        async with trio.open_nursery() as nursery:
            for number in range(POSTS):
                nursery.start_soon(post, http, chat_id, number)
            with trio.fail_after(START_S):
                await enough.wait()
            await server.kill()
    async with (
        open_server_process(data_dir=data_dir, database_url=database_url) as server,
        _client(server) as http,
    ):
        stored = await _messages(http, chat_id)
        replays = {k: await _messages(http, chat_id, after_seq=k)
                   for k in (0, 1, len(stored) // 2, len(stored) - 1, len(stored))}  # fmt: skip
    assert len(acked) >= ACKED_BEFORE_KILL
    _assert_kept(acked, stored)
    for after_seq, replay in replays.items():
        assert replay == stored[after_seq:], after_seq


async def _wait_for(progress: trio.Condition, check: Callable[[], bool]) -> None:
    """Until ``check()`` holds, looked at again each time ``progress`` is notified (an answer
    came), bounded."""
    with trio.fail_after(START_S):
        async with progress:
            while not check():
                await progress.wait()


async def _readyz(http: httpx.AsyncClient) -> int:
    return (await http.get("/readyz")).status_code


async def test_postgres_down_answers_503_then_recovers_without_losing_acks(data_dir: Path) -> None:
    """PostgreSQL stopped under steady posting: 503 + Retry-After (never 500, never a hang), or
    504 for a commit the shutdown cut off mid-flight (its outcome unknown), not ready; once it
    is back, posts succeed again and every acknowledged message is kept."""
    pg: PgServer = await trio.to_thread.run_sync(start_pg_server)
    acked: list[dict[str, Any]] = []
    statuses: list[int] = []
    retry_afters: set[str | None] = set()
    stop = trio.Event()
    progress = trio.Condition()

    async def post_steadily(http: httpx.AsyncClient, chat_id: str, user: str) -> None:
        for number in range(100_000):
            if stop.is_set():
                return
            body = {"user_id": user, "type": "text", "content": f"{user} #{number}"}
            response = await http.post(f"/chats/{chat_id}/messages", json=body)
            statuses.append(response.status_code)
            if response.status_code == 200:
                acked.append(response.json()["message"])
            elif response.status_code in (503, 504):
                retry_afters.add(response.headers.get("Retry-After"))
                assert "detail" in response.json()
            async with progress:
                progress.notify_all()

    try:
        url = await trio.to_thread.run_sync(pg.create_database)
        async with open_server_process(data_dir=data_dir, database_url=url) as server:
            async with _client(server) as http, trio.open_nursery() as nursery:
                chat_id = await _new_chat(http)
                for user in USERS[:2]:
                    nursery.start_soon(post_steadily, http, chat_id, user)
                await _wait_for(progress, lambda: len(acked) >= 20)
                assert await _readyz(http) == 200

                await trio.to_thread.run_sync(pg.stop)
                refused_before = statuses.count(503)
                await _wait_for(progress, lambda: statuses.count(503) >= refused_before + 3)
                assert await _readyz(http) == 503

                await trio.to_thread.run_sync(pg.start)
                acked_before = len(acked)
                await _wait_for(progress, lambda: len(acked) >= acked_before + 20)
                stop.set()
            async with _client(server) as http:
                assert await _readyz(http) == 200
                stored = await _messages(http, chat_id)
                # A second chat, created after the outage, works as usual too.
                assert (await http.post("/chats", json={"participants": ["x"]})).status_code == 200
    finally:
        await trio.to_thread.run_sync(remove_pg_server, pg)
    assert set(statuses) <= {200, 503, 504}, server.log()
    assert statuses.count(503) >= 3
    assert retry_afters == {"1"}
    _assert_kept(acked, stored)


#: The server's bound on one store call in the hung-PostgreSQL test (short, so that the test is).
STORE_TIMEOUT_S = 2.0
#: Answers a paused PostgreSQL must still get, from each poster.
ANSWERS_WHILE_PAUSED = 3
#: /readyz must answer within one second by design; this generous bound keeps the test steady.
READYZ_BOUND_S = 3.0


async def test_a_hung_postgres_costs_each_request_a_bound_and_no_503_is_stored(
    data_dir: Path,
) -> None:
    """PostgreSQL SIGSTOPped under steady posting (hung, not down): every answer comes within the
    command timeout, 503 (nothing stored) or 504 (outcome unknown), never 500; /readyz answers
    503 within a second. After SIGCONT no 503 was stored, and a retry of each refused send with
    the same client_message_id stores it exactly once."""
    pg: PgServer = await trio.to_thread.run_sync(start_pg_server)
    statuses: dict[str, int] = {}
    acked: list[dict[str, Any]] = []
    slowest_while_paused = 0.0
    paused_answers: dict[str, int] = dict.fromkeys(USERS, 0)
    resumed = trio.Event()
    stop = trio.Event()
    progress = trio.Condition()

    async def post_steadily(http: httpx.AsyncClient, chat_id: str, user: str) -> None:
        nonlocal slowest_while_paused
        for number in range(100_000):
            if stop.is_set():
                return
            if paused_answers[user] >= ANSWERS_WHILE_PAUSED and not resumed.is_set():
                await resumed.wait()  # enough from this poster while paused
            key = f"{user}-{number}"
            body = {"user_id": user, "type": "text", "content": key, "client_message_id": key}
            sent_at = trio.current_time()
            paused = pausing.is_set() and not resumed.is_set()
            response = await http.post(f"/chats/{chat_id}/messages", json=body)
            statuses[key] = response.status_code
            if response.status_code == 200:
                acked.append(response.json()["message"])
            else:
                assert response.headers.get("Retry-After") == "1", response.text
                assert "detail" in response.json()
            if paused:
                paused_answers[user] += 1
                slowest_while_paused = max(slowest_while_paused, trio.current_time() - sent_at)
            async with progress:
                progress.notify_all()

    async def readyz(http: httpx.AsyncClient) -> tuple[int, str, float]:
        asked_at = trio.current_time()
        response = await http.get("/readyz")
        return (
            response.status_code,
            response.json().get("detail", ""),
            (trio.current_time() - asked_at),
        )

    pausing = trio.Event()
    try:
        url = await trio.to_thread.run_sync(pg.create_database)
        args = ("--store-timeout-s", str(STORE_TIMEOUT_S))
        async with open_server_process(*args, data_dir=data_dir, database_url=url) as server:
            async with _client(server) as http, trio.open_nursery() as nursery:
                chat_id = await _new_chat(http)
                for user in USERS:
                    nursery.start_soon(post_steadily, http, chat_id, user)
                await _wait_for(progress, lambda: len(acked) >= 20)
                with pg.paused():
                    pausing.set()
                    first_check = await readyz(http)
                    second_check = await readyz(http)  # the first check still hangs: at once
                    await _wait_for(
                        progress, lambda: min(paused_answers.values()) >= ANSWERS_WHILE_PAUSED
                    )
                resumed.set()
                acked_before = len(acked)
                await _wait_for(progress, lambda: len(acked) >= acked_before + 20)
                stop.set()
            async with _client(server) as http:
                before_retries = await _messages(http, chat_id)
                refused = [key for key, status in statuses.items() if status != 200]
                retried = {}
                for key in refused:
                    user = key.rsplit("-", 1)[0]
                    body = {"user_id": user, "type": "text", "content": key,
                            "client_message_id": key}  # fmt: skip
                    response = await http.post(f"/chats/{chat_id}/messages", json=body)
                    assert response.status_code == 200, response.text
                    retried[key] = response.json()["message"]
                stored = await _messages(http, chat_id)
    finally:
        await trio.to_thread.run_sync(remove_pg_server, pg)

    assert set(statuses.values()) <= {200, 503, 504}, server.log()
    assert slowest_while_paused < 10 + STORE_TIMEOUT_S  # the command timeout, never a hang
    assert [first_check[:2], second_check[:2]] == [(503, "store: not answering")] * 2
    assert max(first_check[2], second_check[2]) < READYZ_BOUND_S
    stored_before = Counter(m["client_message_id"] for m in before_retries)
    # "503: nothing changed" held: no refused send was stored, and no send twice.
    assert [k for k, status in statuses.items() if status == 503 and stored_before[k]] == []
    assert max(stored_before.values()) == 1
    # Each retry stored its message, or found the one its 504 had stored after all: once.
    stored_keys = Counter(m["client_message_id"] for m in stored)
    assert all(stored_keys[key] == 1 for key in statuses)
    by_key = {m["client_message_id"]: m for m in stored}
    assert all(by_key[key] == message for key, message in retried.items())
    _assert_kept(acked, stored)
