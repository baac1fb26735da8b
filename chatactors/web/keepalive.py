"""Keepalive pings, sent by the task that already sends a socket's frames (no task of their own).

A live peer answers each ping with a pong, so it sends something at least once an interval, and
a connection silent for 2.5 intervals is closed as dead (Hypercorn's ``read_timeout``, set in
serve.py); a ping also keeps proxies and NATs from dropping a quiet connection. A task per
socket that sleeps between pings (Hypercorn's way) costs each idle socket a task, a timer and
their coroutines: this costs a deadline on the wait the sending task makes anyway.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import TypeVar

import attrs
import trio

T = TypeVar("T")


@attrs.define(eq=False)
class Keepalive:
    """Calls ``ping`` (a socket's) whenever ``interval_s`` has passed since the last call (0:
    never)."""

    ping: Callable[[], Awaitable[None]]
    interval_s: float
    _due: float = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._due = trio.current_time() + (self.interval_s or math.inf)

    async def wait(self, receive: Callable[[], Awaitable[T]]) -> T:
        """``await receive()``, pinging whenever a ping falls due meanwhile (and first, if one
        is due already: a socket busy sending is pinged too, and its peer keeps answering)."""
        while True:
            if trio.current_time() >= self._due:
                await self.ping()
                self._due = trio.current_time() + self.interval_s
            with trio.move_on_at(self._due):
                return await receive()
