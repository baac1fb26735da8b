"""Slow and dead clients against a real Hypercorn on 127.0.0.1 (real sockets, real clock).

Waits here are bounded polls of the server's own statistics, never sleeps that stand in for
synchronisation.
"""

from __future__ import annotations

import gc
import socket
import struct
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import trio
from hypercorn.protocol.ws_stream import WSStream
from hypercorn.trio.tcp_server import TCPServer

from chatactors.web.services import Services
from chatactors.web.socket_transport import AsgiSocket
from tests.conftest import make_settings
from tests.hardening.raw_socket import open_upgraded
from tests.harness.clients import metric, open_socket
from tests.harness.served_app import ServedApp, served_app
from tests.harness.waiting import wait_until_async

#: Linux's TCP_ESTABLISHED state number (include/net/tcp_states.h).
TCP_ESTABLISHED = 1


def subscribed(services: Services, count: int) -> Callable[[], bool]:
    """A condition: the registry counts ``count`` subscribers."""
    return lambda: services.registry.statistics().subscribers == count


@pytest.fixture
async def served(request: pytest.FixtureRequest) -> AsyncIterator[ServedApp]:
    async with served_app(make_settings(**getattr(request, "param", {}))) as server:
        yield server


async def new_chat(url: str, *participants: str) -> str:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{url}/chats", json={"participants": list(participants)})
        return str(response.json()["chat_id"])


# No presence grace: offline at once shows that the last socket's end was counted.
@pytest.mark.parametrize("served", [{"presence_grace_s": 0}], indirect=True)
async def test_abrupt_disconnects_leave_no_subscriber_behind(
    served: ServedApp,
) -> None:
    url, services = served.url, served.services
    chat_id = await new_chat(url, "alice", "bob")
    ws_url = url.replace("http", "ws", 1) + f"/ws/{chat_id}?user_id=alice"
    rounds, per_round = 20, 100  # 2,000 abrupt disconnects in all
    for _ in range(rounds):
        streams = []
        for _ in range(per_round):
            # A raw WebSocket handshake, then the TCP connection is dropped without a close frame.
            stream = await trio.open_tcp_stream("127.0.0.1", int(url.rsplit(":", 1)[1]))
            await stream.send_all(
                f"GET /ws/{chat_id}?user_id=alice HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n".encode()
            )
            assert b"101" in await stream.receive_some(1024)
            streams.append(stream)
        await wait_until_async(subscribed(services, per_round), 10, f"subscribers == {per_round}")
        for stream in streams:
            await stream.aclose()
    await wait_until_async(subscribed(services, 0), 10, "subscribers == 0")
    async with httpx.AsyncClient() as client:
        presence = (await client.get(f"{url}/chats/{chat_id}/presence")).json()
    assert presence[0]["status"] == "offline"
    # A well-behaved client is served normally afterwards.
    async with open_socket(ws_url) as ws:
        with trio.fail_after(5):
            assert "online" in await ws.get_message()


@pytest.mark.parametrize(
    "served", [{"ws_ping_interval_s": 0.4, "presence_grace_s": 0}], indirect=True
)
async def test_a_dead_peer_is_reaped_and_a_live_one_kept(served: ServedApp) -> None:
    url, services = served.url, served.services
    chat_id = await new_chat(url, "alice", "bob")
    port = int(url.rsplit(":", 1)[1])
    # The dead peer completes the handshake and then never says anything again (no pongs).
    dead = await trio.open_tcp_stream("127.0.0.1", port)
    await dead.send_all(
        f"GET /ws/{chat_id}?user_id=bob HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    assert b"101" in await dead.receive_some(1024)
    ws_url = url.replace("http", "ws", 1) + f"/ws/{chat_id}?user_id=alice"
    async with open_socket(ws_url) as live:  # trio-websocket answers pings
        await wait_until_async(subscribed(services, 2), 10, "subscribers == 2")
        await wait_until_async(subscribed(services, 1), 15, "subscribers == 1")
        async with httpx.AsyncClient() as client:
            listed = (await client.get(f"{url}/chats/{chat_id}/presence")).json()
        presence = {p["user_id"]: p["status"] for p in listed}
        assert presence == {"alice": "online", "bob": "offline", "bot_user": "offline"}
        assert not live.closed
    await dead.aclose()


@pytest.mark.parametrize("served", [{"subscriber_queue_size": 8}], indirect=True)
async def test_a_client_that_stops_reading_is_dropped_others_receive_all(
    served: ServedApp,
) -> None:
    url, services = served.url, served.services
    chat_id = await new_chat(url, "alice")
    ws_url = url.replace("http", "ws", 1) + f"/ws/{chat_id}"
    big = "x" * 60_000  # fills socket buffers quickly
    count = 200
    async with open_socket(ws_url, message_queue_size=1) as _stuck, open_socket(ws_url) as reader:
        await wait_until_async(subscribed(services, 2), 10, "subscribers == 2")
        received: list[int] = []

        async def read_all() -> None:
            while len(received) < count:
                frame = await reader.get_message()
                if '"message_received"' in frame:
                    received.append(len(received))

        async with trio.open_nursery() as nursery, httpx.AsyncClient() as client:
            nursery.start_soon(read_all)
            for _ in range(count):
                response = await client.post(f"{url}/chats/{chat_id}/messages",
                                             json={"user_id": "alice", "type": "text",
                                                   "content": big})  # fmt: skip
                assert response.status_code == 200
        assert len(received) == count
        assert services.registry.statistics().lagged_subscribers == 1


def tcp_state(stream: trio.SocketStream) -> int:
    """The kernel's TCP state of a connection (Linux ``tcp_info.tcpi_state``)."""
    return stream.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]


async def open_connections(url: str) -> float:
    async with httpx.AsyncClient(base_url=url) as client:
        return await metric(client, "chatactors_websocket_connections")


@pytest.mark.parametrize("served", [{"subscriber_queue_size": 8}], indirect=True)
async def test_a_stalled_socket_is_released_after_the_lag_drop(
    served: ServedApp,
) -> None:
    url, services = served.url, served.services
    chat_id = await new_chat(url, "alice")
    # A peer that completes the handshake, then never reads: its window closes, the server's
    # writes stall (inside a send Hypercorn shields from cancellation).
    stalled = await open_upgraded(int(url.rsplit(":", 1)[1]), f"/ws/{chat_id}")

    async def no_open_connections() -> bool:
        return await open_connections(url) == 0

    try:
        await wait_until_async(subscribed(services, 1), 10, "subscribers == 1")
        assert await open_connections(url) == 1
        big = "x" * 60_000
        async with httpx.AsyncClient() as client:
            while services.registry.statistics().lagged_subscribers == 0:
                response = await client.post(f"{url}/chats/{chat_id}/messages",
                                             json={"user_id": "alice", "type": "text",
                                                   "content": big})  # fmt: skip
                assert response.status_code == 200
        # Dropped from fan-out; then, once the close could not be sent in time, the connection
        # is reset: the server counts no socket for it and the peer's side is not established.
        await wait_until_async(subscribed(services, 0), 10, "subscribers == 0")
        await wait_until_async(no_open_connections, 30, "no WebSocket connection counted")
        await wait_until_async(
            lambda: tcp_state(stalled) != TCP_ESTABLISHED, 10, "the stalled connection ended"
        )
    finally:
        await stalled.aclose()  # unblocks the server's write if it is still stuck


def live_connection_objects() -> list[object]:
    gc.collect()
    kinds = (AsgiSocket, TCPServer, WSStream)
    return [o for o in gc.get_objects() if isinstance(o, kinds)]


# Pings off: with them on, Hypercorn keeps a reset connection's task (and objects) until its
# ping loop's sleep ends, up to ws_ping_interval_s later (a known gap, see the report).
@pytest.mark.parametrize("served", [{"ws_ping_interval_s": 0}], indirect=True)
async def test_socket_churn_leaves_no_connection_objects_behind(
    served: ServedApp,
) -> None:
    url, services = served.url, served.services
    chat_id = await new_chat(url, "alice")
    port = int(url.rsplit(":", 1)[1])
    for _ in range(3):
        streams = [await open_upgraded(port, f"/ws/{chat_id}") for _ in range(100)]
        await wait_until_async(subscribed(services, 100), 10, "subscribers == 100")
        for stream in streams:  # reset: no close frame, no FIN
            stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            await stream.aclose()
        await wait_until_async(subscribed(services, 0), 10, "subscribers == 0")
    # Hypercorn tears each connection down after the app has ended; then nothing of them stays.
    await wait_until_async(lambda: not live_connection_objects(), 10, "no connection objects left")
