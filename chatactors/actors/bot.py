"""Bot: ``bot_user``, who answers human messages the way the reference bot does.

After a human message it waits a random pause (default 2-4 s) before each step, the first
included: online, chat read, typing, then its first reply at once (the reference's sequence,
REFERENCE.md: 6-12 s after the message), a pause before each further reply (1-3 in all), and
offline. A reply to one of its messages is a message like any other; a change to a message (an
edit, a reaction) is not one, and starts nothing; nor is a system message (a member added or
gone, a new title). It is a client like any other: it
talks to chats through handles on a :class:`~chatactors.actors.mailbox.Mailbox`, and learns about
messages from a passive subscription that each chat's actor hands it when it starts (the
registry's activation hook), so no message is missed and the chat never waits for it. A burst
is answered by one sequence: every message that arrived before the bot marked the chat read is
covered by that sequence; later ones start the next.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import attrs
import trio

from chatactors.actors.handle import ChatHandle
from chatactors.actors.mailbox import Mailbox
from chatactors.actors.subscription import Subscription
from chatactors.domain.errors import ChatError
from chatactors.domain.events import MessageReceived
from chatactors.domain.ids import BOT_USER, ChatId
from chatactors.domain.models import MessageType, PresenceStatus

log = logging.getLogger(__name__)


@attrs.frozen
class BotReply:
    type: MessageType
    content: str


@attrs.define(eq=False)
class _ChatBot:
    """The bot's side of one chat, alive while a subscription of the chat is open or it talks."""

    handle: ChatHandle
    rng: random.Random
    #: A human message came that no sequence has read yet.
    pending: bool = False
    #: Open subscriptions of this chat (an actor that stops and starts again gives a new one).
    listeners: int = 0
    wake: trio.Event = attrs.field(factory=trio.Event)

    def poke(self) -> None:
        self.wake.set()


@attrs.define(eq=False)
class Bot:
    """Build with :func:`open_bot`; register :meth:`activated` as the registry's hook."""

    mailbox: Mailbox
    replies: Sequence[BotReply]
    delay_min_s: float
    delay_max_s: float
    random_for: Callable[[ChatId], random.Random]
    _nursery: trio.Nursery
    _chats: dict[ChatId, _ChatBot] = attrs.field(factory=dict)
    _closed: bool = False

    def activated(self, chat_id: ChatId, subscription: Subscription) -> None:
        """A chat's actor started; called in that actor's task, so it must not block."""
        if self._closed:
            return  # stopping: this chat goes unanswered rather than failing its actor
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = _ChatBot(ChatHandle(chat_id, self.mailbox), self.random_for(chat_id))
            self._chats[chat_id] = chat
            self._nursery.start_soon(self._answer, chat_id, chat, name=f"bot:{chat_id}")
        chat.listeners += 1
        self._nursery.start_soon(self._listen, chat, subscription)

    async def _listen(self, chat: _ChatBot, subscription: Subscription) -> None:
        try:
            while True:
                try:
                    envelope = await subscription.receive()
                except trio.EndOfChannel:
                    return
                event = envelope.event
                if (
                    isinstance(event, MessageReceived)
                    and event.message.user_id != BOT_USER
                    and event.message.system is None  # a member added, a title: no question
                ):
                    chat.pending = True
                    chat.poke()
        finally:
            chat.listeners -= 1
            chat.poke()

    async def _answer(self, chat_id: ChatId, chat: _ChatBot) -> None:
        """Run sequences while messages wait; stop once the chat has no subscription left."""
        try:
            while True:
                while not chat.pending:
                    if chat.listeners == 0:
                        return
                    chat.wake = trio.Event()
                    await chat.wake.wait()
                try:
                    await self._sequence(chat)
                except ChatError as error:
                    chat.pending = False
                    log.warning("bot sequence in chat %s stopped: %s", chat_id, error)
        finally:
            # No checkpoint since the last look at ``listeners``: no activation slipped between.
            if self._chats.get(chat_id) is chat:
                del self._chats[chat_id]

    async def _pause(self, chat: _ChatBot) -> None:
        await trio.sleep(chat.rng.uniform(self.delay_min_s, self.delay_max_s))

    async def _sequence(self, chat: _ChatBot) -> None:
        handle = chat.handle
        await self._pause(chat)
        await handle.set_presence(BOT_USER, PresenceStatus.ONLINE)
        await self._pause(chat)
        # Everything that arrived until now is read, so answered by this sequence.
        chat.pending = False
        await handle.mark_read(BOT_USER)
        await self._pause(chat)
        await handle.set_presence(BOT_USER, PresenceStatus.TYPING)
        for index in range(chat.rng.randint(1, 3)):
            if index:  # the first reply comes as soon as typing shows, as the reference's does
                # Refreshed like a client's, or typing would lapse to online between long
                # replies; an unchanged status is not broadcast, so this adds no event.
                await handle.set_presence(BOT_USER, PresenceStatus.TYPING)
                await self._pause(chat)
            if self.replies:
                reply = chat.rng.choice(self.replies)
                await handle.post(BOT_USER, reply.type, reply.content)
        await self._pause(chat)
        await handle.set_presence(BOT_USER, PresenceStatus.OFFLINE)


def seeded_random(seed: int | None) -> Callable[[ChatId], random.Random]:
    """One RNG per chat; with a seed, each chat's draws are reproducible."""

    def random_for(chat_id: ChatId) -> random.Random:
        return random.Random(None if seed is None else f"{seed}:{chat_id}")

    return random_for


@asynccontextmanager
async def open_bot(
    mailbox: Mailbox,
    replies: Sequence[BotReply],
    *,
    delay_min_s: float,
    delay_max_s: float,
    random_for: Callable[[ChatId], random.Random],
) -> AsyncIterator[Bot]:
    """Run the bot's tasks; on exit they are cancelled (a sequence in progress stops)."""
    async with trio.open_nursery() as nursery:
        bot = Bot(mailbox, replies, delay_min_s, delay_max_s, random_for, nursery)
        try:
            yield bot
        finally:
            bot._closed = True
            nursery.cancel_scope.cancel()
