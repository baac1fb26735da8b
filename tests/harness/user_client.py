"""A client of ``WS /ws`` (one socket per user): reads its array frames, one event at a time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import orjson
import trio
import trio_websocket

from tests.harness.clients import WAIT_S

#: The subprotocol a ``/ws`` client offers.
V1 = ["chatactors.v1"]

Event = dict[str, Any]


@attrs.define(eq=False)
class UserClient:
    """A user socket: reads array frames, hands out their events one at a time."""

    ws: trio_websocket.WebSocketConnection
    _queued: list[Event] = attrs.field(factory=list)
    _ready: dict[str, Any] | None = None

    async def next(
        self,
        predicate: Callable[[Event], bool] = lambda e: True,
        *,
        seen: list[Event] | None = None,
    ) -> Event:
        """The next event that matches, within ``WAIT_S``; the others before it go to ``seen``
        (or are dropped)."""
        with trio.fail_after(WAIT_S):
            while True:
                while self._queued:
                    event = self._queued.pop(0)
                    if predicate(event):
                        return event
                    if seen is not None:
                        seen.append(event)
                frame = orjson.loads(await self.ws.get_message())
                assert isinstance(frame, list)
                self._queued.extend(frame)

    async def command(self, **command: Any) -> None:
        await self.ws.send_message(orjson.dumps(command).decode())

    async def answer(self, ref: str) -> Event:
        return await self.next(lambda e: e["event"] in ("ack", "error") and e["data"]["ref"] == ref)

    async def messages(self, count: int) -> dict[str, list[int]]:
        """The seqs of the next ``count`` messages, by chat, in the order they came."""
        seqs: dict[str, list[int]] = {}
        for _ in range(count):
            event = await self.next(lambda e: e["event"] == "message_received")
            seqs.setdefault(event["chat_id"], []).append(event["data"]["seq"])
        return seqs

    async def ready(self) -> dict[str, Any]:
        """The ``ready`` event's data (the socket's first event; read once, then remembered)."""
        if self._ready is None:
            event = await self.next()
            assert event["event"] == "ready", event
            self._ready = event["data"]
        return self._ready


def is_presence_of(user_id: str, status: str | None = None) -> Callable[[Event], bool]:
    return lambda e: (
        e["event"] == "presence_updated"
        and e["data"]["user_id"] == user_id
        and (status is None or e["data"]["status"] == status)
    )
