"""A client of a per-chat socket speaking ``chatactors.v1``: array frames, read one event at a
time, commands answered by ``ref``."""

from __future__ import annotations

from typing import Any

import orjson
import trio
import trio_websocket

from tests.harness.clients import WAIT_S

Event = dict[str, Any]


class ChatClient:
    """A per-chat ``chatactors.v1`` socket: reads array frames one event at a time."""

    def __init__(self, ws: trio_websocket.WebSocketConnection) -> None:
        self.ws = ws
        self._queued: list[Event] = []
        #: The ``subscribed`` event (see :meth:`subscribed`).
        self.hello: Event = {}

    async def subscribed(self) -> Event:
        """The socket's first event, ``subscribed`` (remembered in ``hello``)."""
        self.hello = await self.next()
        assert self.hello["event"] == "subscribed", self.hello
        return self.hello

    async def next(self) -> Event:
        with trio.fail_after(WAIT_S):
            while not self._queued:
                frame = orjson.loads(await self.ws.get_message())
                assert isinstance(frame, list), frame
                self._queued.extend(frame)
            return self._queued.pop(0)

    async def until(self, marker: str) -> list[Event]:
        """Every event up to the message whose content is ``marker`` (included)."""
        events = []
        while True:
            event = await self.next()
            events.append(event)
            if event["event"] == "message_received" and event["data"]["content"] == marker:
                return events

    async def command(self, **command: Any) -> Event:
        """Send a command and return its answer (an ``ack`` or an ``error``); events that come
        before it are kept for ``next``."""
        await self.ws.send_message(orjson.dumps(command).decode())
        with trio.fail_after(WAIT_S):
            while True:
                frame = orjson.loads(await self.ws.get_message())
                for index, event in enumerate(frame):
                    if (
                        event["event"] in ("ack", "error")
                        and event["data"]["ref"] == command["ref"]
                    ):
                        self._queued.extend(frame[:index] + frame[index + 1 :])
                        return dict(event)
                self._queued.extend(frame)


def logged(events: list[Event]) -> list[tuple[str, int, int]]:
    """(event, pos, seq) of each log event."""
    return [
        (e["event"], e["pos"], e["data"]["seq"])
        for e in events
        if e["event"] in ("message_received", "message_updated")
    ]
