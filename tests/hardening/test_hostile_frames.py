"""Frames that break the protocol, sent raw right after the handshake, to a real server process.

Each used to end the whole process within a few dozen sockets (issue 12 item 1): Hypercorn's
keepalive ping at accept raced its own close of the bad connection, and the error escaped its
listener. Whatever a connection does, the server and every other socket live on.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio

from tests.hardening.raw_socket import frame, open_upgraded
from tests.served_process import ServedProcess, served_process
from tests.ws_client import client_socket

WAIT_S = 30.0
#: Sockets per kind of frame; the server used to die within 5-27.
PER_KIND = 60
HOSTILE = {
    "ping of 200 bytes": frame(0x9, b"p" * 200),
    "unmasked frame": frame(0x1, b"hello", masked=False),
    "close code 999": frame(0x8, struct.pack("!H", 999)),
    "invalid UTF-8": frame(0x1, b"\xff\xfe\xfd caf\xc3"),
}


@pytest.fixture(name="server")
def _server(tmp_path: Path) -> Iterator[ServedProcess]:
    # Default pings (the first goes out at accept): the setting that made the race.
    with served_process(
        "--store", "sqlite", "--data-dir", str(tmp_path), "--no-bot-enabled"
    ) as served:
        yield served


async def send_and_hang_up(port: int, path: str, data: bytes) -> None:
    stream = await open_upgraded(port, path)
    try:
        await stream.send_all(data)
        with trio.move_on_after(WAIT_S):
            while await stream.receive_some(4096):
                pass  # until the server closes the connection
    except trio.BrokenResourceError:
        pass  # the server reset the connection: also an answer
    finally:
        await stream.aclose()


@pytest.mark.parametrize("kind", list(HOSTILE))
async def test_hostile_frames_neither_end_the_server_nor_drop_other_sockets(
    server: ServedProcess, kind: str
) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT_S) as http:
        chat_id = (await http.post("/chats", json={"participants": ["alice"]})).json()["chat_id"]
        ws_url = server.url.replace("http", "ws", 1) + f"/ws/{chat_id}"
        async with client_socket(ws_url) as watcher:
            for batch in range(PER_KIND // 10):
                async with trio.open_nursery() as nursery:
                    for _ in range(10):
                        nursery.start_soon(send_and_hang_up, port, f"/ws/{chat_id}", HOSTILE[kind])
                assert server.process.poll() is None, "".join(server.log)
                # The other socket is still open and still receives.
                body = {"user_id": "alice", "type": "text", "content": f"after batch {batch}"}
                response = await http.post(f"/chats/{chat_id}/messages", json=body)
                assert response.status_code == 200
                with trio.fail_after(WAIT_S):
                    while f"after batch {batch}" not in await watcher.get_message():
                        pass  # presence and the bot's events
    assert server.process.poll() is None, "".join(server.log)
