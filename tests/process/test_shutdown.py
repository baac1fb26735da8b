"""SIGTERM ends the process promptly once nothing is in flight, whatever idle connections remain.

Policy: see ``conftest.py``. The server runs with a long shutdown timeout; each test asserts the
process has exited 0 well inside a third of it. That bound is a correctness bound (the server
must not sit out its timeout for connections with nothing to do), not a speed claim.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx
import pytest
import trio

from tests.harness.clients import metric, wait_closed
from tests.harness.server_process import STOP_S, ServerProcess, open_server_process
from tests.harness.waiting import wait_until_async
from tests.media.samples import wav

pytestmark = pytest.mark.slow

SHUTDOWN_TIMEOUT_S = 60.0
#: The process must be gone within this (a third of the timeout it was given).
EXIT_BOUND_S = SHUTDOWN_TIMEOUT_S / 3
SOCKETS = 100


def _serve(data_dir: Path) -> AbstractAsyncContextManager[ServerProcess]:
    return open_server_process(
        # Keepalive pings on: Hypercorn's ping loop sleeps a whole interval between pings.
        *("--shutdown-timeout-s", str(SHUTDOWN_TIMEOUT_S), "--ws-ping-interval-s", "25"),
        data_dir=data_dir,
    )


async def _new_chat(http: httpx.AsyncClient) -> str:
    response = await http.post("/chats", json={"participants": ["alice", "bob"]})
    response.raise_for_status()
    chat_id: str = response.json()["chat_id"]
    return chat_id


async def _wait_for_no_socket(server: ServerProcess) -> None:
    """Until the server counts no WebSocket open. Each look is a request of its own that the
    server closes after answering (a connection the client closed would stay open on the
    server until the keep-alive timeout, an idle connection more at the SIGTERM)."""
    async with server.http(headers={"Connection": "close"}) as http:

        async def none_open() -> bool:
            return await metric(http, "chatactors_websocket_connections") == 0

        await wait_until_async(none_open, STOP_S, "the socket closed on the server")


async def _terminate_within_bound(server: ServerProcess) -> None:
    server.send_signal(signal.SIGTERM)
    await _exits_within_bound(server)


async def _exits_within_bound(server: ServerProcess) -> None:
    with trio.move_on_after(EXIT_BOUND_S):
        await server.wait()
    assert server.returncode == 0, server.log()


async def test_sigterm_after_a_socket_closed_exits_at_once(data_dir: Path) -> None:
    async with _serve(data_dir) as server:
        async with server.http() as http:
            chat_id = await _new_chat(http)
        async with server.socket(f"/ws/{chat_id}?user_id=alice") as ws:
            await ws.send_message("hello")
        await _wait_for_no_socket(server)
        await _terminate_within_bound(server)


async def test_sigterm_with_many_open_sockets_closes_them_1001_and_exits(data_dir: Path) -> None:
    codes: list[int] = []

    async def watch(
        server: ServerProcess, path: str, *, task_status: trio.TaskStatus[None]
    ) -> None:
        async with server.socket(path) as ws:
            task_status.started()
            codes.append((await wait_closed(ws, STOP_S)).code)

    async with _serve(data_dir) as server:
        async with server.http() as http:
            chat_id = await _new_chat(http)
        async with trio.open_nursery() as nursery:
            for _ in range(SOCKETS):
                await nursery.start(watch, server, f"/ws/{chat_id}")
            await _terminate_within_bound(server)
    assert codes == [1001] * SOCKETS


async def test_sigterm_with_an_idle_keep_alive_connection_exits(data_dir: Path) -> None:
    async with _serve(data_dir) as server, server.http() as http:
        # A Quart route (not the fast path); the connection stays open in httpx's pool.
        response = await http.get("/chats", params={"user_id": "alice"})
        assert response.status_code == 200
        await _terminate_within_bound(server)


async def test_a_request_in_flight_at_sigterm_is_answered_before_the_exit(data_dir: Path) -> None:
    """Work in flight is not cut short: an upload whose body is still arriving gets its 200."""
    body = wav(frames=20_000)
    half_sent = trio.Event()
    go_on = trio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield body[: len(body) // 2]
        half_sent.set()
        await go_on.wait()
        yield body[len(body) // 2 :]

    async with _serve(data_dir) as server, server.http() as http:
        answers: list[httpx.Response] = []

        async def upload() -> None:
            answers.append(
                await http.post(
                    "/media", content=slow_body(), headers={"Content-Type": "audio/wav"}
                )
            )

        async with trio.open_nursery() as nursery:
            nursery.start_soon(upload)
            await half_sent.wait()
            # In flight: the route has opened the upload's temporary file.
            await wait_until_async(
                lambda: any((data_dir / "media").glob(".upload-*")), STOP_S, "the upload begun"
            )
            server.send_signal(signal.SIGTERM)
            # Time passing is the point: the process must not exit while the upload is open.
            await trio.sleep(0.5)
            assert server.returncode is None  # still serving the upload
            go_on.set()
        await _exits_within_bound(server)
    assert answers[0].status_code == 200, answers[0].text
    assert answers[0].json()["content_type"] == "audio/wav"
