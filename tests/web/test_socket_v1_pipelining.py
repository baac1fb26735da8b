"""chatactors.v1 over ASGI events in process: commands are pipelined and answered in order."""

from __future__ import annotations

from typing import Any

import attrs
import orjson
import trio
import trio.testing
from quart.typing import TestClientProtocol as Client

from chatactors.domain.models import Message
from chatactors.storage.memory import MemoryStore
from chatactors.web.app import create_app
from chatactors.web.services import services_of
from tests.conftest import make_settings
from tests.harness.asgi_socket import AsgiTestSocket, open_socket

V1 = ("chatactors.v1",)


@attrs.define(eq=False)
class GatedStore(MemoryStore):
    """Holds every message write until the gate opens (the actor waits for the commit)."""

    gate: trio.Event = attrs.field(factory=trio.Event)

    async def append_message(self, message: Message, *, owner: int) -> None:
        await self.gate.wait()
        await super().append_message(message, owner=owner)


async def frames(ws: AsgiTestSocket, count: int) -> list[list[dict[str, Any]]]:
    received = []
    with trio.fail_after(30):
        for _ in range(count):
            frame = orjson.loads(await ws.receive())
            assert isinstance(frame, list)
            received.append(frame)
    return received


async def create_chat(client: Client) -> str:
    response = await client.post("/chats", json={"participants": ["alice", "bob"]})
    body: dict[str, Any] = await response.get_json()
    return str(body["chat_id"])


async def test_commands_are_queued_before_earlier_ones_are_answered() -> None:
    store = GatedStore()
    app = create_app(make_settings(), store=store)
    async with app.test_app() as test_app:
        client = test_app.test_client()
        services = services_of(app)
        assert services is not None
        chat_id = await create_chat(client)
        async with open_socket(app, f"/ws/{chat_id}?user_id=alice", subprotocols=V1) as ws:
            assert (await frames(ws, 1))[0][0]["event"] == "subscribed"
            for n in range(3):
                await ws.send(orjson.dumps({"op": "send", "ref": f"r{n}", "content": f"m{n}"}))
            await ws.send(b'{"op": "read", "ref": "r3"}')
            # The first send waits for its write; the other three commands were read and queued
            # behind it anyway (a reader that waited for each answer would have queued none).
            await trio.testing.wait_all_tasks_blocked()
            assert services.registry.statistics().queued_requests == 3
            store.gate.set()
            acks: list[dict[str, Any]] = []
            while len(acks) < 4:
                frame = (await frames(ws, 1))[0]
                acks.extend(event["data"] for event in frame if event["event"] == "ack")
    assert [a["ref"] for a in acks] == ["r0", "r1", "r2", "r3"]
    assert [a["message"]["seq"] for a in acks[:3]] == [1, 2, 3]
    assert acks[3]["last_read_seq"] == 3
