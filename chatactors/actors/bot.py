"""BotActor: ``bot_user``, who answers human messages the way the reference bot does.

After a human message it goes online, marks the chat read, types, sends 1-3 replies and goes
offline, with a random pause (default 2-4 s) before each step after the first. It is woken
through a one-slot channel that the chat fills without waiting, so a burst of messages is
answered by one sequence: every message that arrived before the bot marked the chat read is
covered by that sequence; later ones wake it again. It talks to the chat only through its
handle, like any client, and the chat never waits for it.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs
import trio

from chatactors.domain.errors import ChatError
from chatactors.domain.ids import BOT_USER
from chatactors.domain.models import MessageType, PresenceStatus

if TYPE_CHECKING:
    from chatactors.actors.handle import ChatHandle

log = logging.getLogger(__name__)


@attrs.frozen
class BotReply:
    type: MessageType
    content: str


def _wakeup_channel() -> tuple[trio.MemorySendChannel[None], trio.MemoryReceiveChannel[None]]:
    return trio.open_memory_channel[None](1)


@attrs.define(eq=False)
class BotActor:
    handle: ChatHandle
    replies: Sequence[BotReply]
    rng: random.Random
    delay_min_s: float
    delay_max_s: float
    _channel: tuple[trio.MemorySendChannel[None], trio.MemoryReceiveChannel[None]] = attrs.field(
        factory=_wakeup_channel
    )
    busy: bool = False

    @property
    def wakeups(self) -> trio.MemorySendChannel[None]:
        return self._channel[0]

    async def run(self) -> None:
        async for _ in self._channel[1]:
            self.busy = True
            try:
                await self._answer()
            except ChatError as error:
                log.warning("bot sequence in chat %s stopped: %s", self.handle.chat_id, error)
            finally:
                self.busy = False

    async def _pause(self) -> None:
        await trio.sleep(self.rng.uniform(self.delay_min_s, self.delay_max_s))

    async def _answer(self) -> None:
        await self.handle.set_presence(BOT_USER, PresenceStatus.ONLINE)
        await self._pause()
        # Everything that arrived until now is read, so answered by this sequence.
        with contextlib.suppress(trio.WouldBlock):
            self._channel[1].receive_nowait()
        await self.handle.mark_read(BOT_USER)
        await self._pause()
        await self.handle.set_presence(BOT_USER, PresenceStatus.TYPING)
        for _ in range(self.rng.randint(1, 3)):
            # Refreshed like a client's, or typing would lapse to online between long replies;
            # an unchanged status is not broadcast, so this adds no event.
            await self.handle.set_presence(BOT_USER, PresenceStatus.TYPING)
            await self._pause()
            if self.replies:
                reply = self.rng.choice(self.replies)
                await self.handle.post(BOT_USER, reply.type, reply.content)
        await self._pause()
        await self.handle.set_presence(BOT_USER, PresenceStatus.OFFLINE)
