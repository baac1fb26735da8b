"""A memory store whose next append can be held, then confirmed or left unconfirmed.

``MemoryStore`` for everything else, so the chat's stored truth is real; only the append under
test is scripted: held until ``release`` is set, then confirmed, or answered with
``OutcomeUnknown`` after it has landed or without landing (as when a hung database wakes up and
commits, or never does).
"""

from __future__ import annotations

import enum

import attrs
import trio

from chatactors.domain.errors import OutcomeUnknown
from chatactors.domain.ids import ChatId
from chatactors.domain.models import Message
from chatactors.storage.memory import MemoryStore
from chatactors.storage.store import MessagePage


class Unconfirmed(enum.Enum):
    CONFIRMED = "confirmed"
    #: Stored, but the caller hears OutcomeUnknown.
    LANDED = "landed"
    #: Not stored, and the caller hears OutcomeUnknown.
    LOST = "lost"


@attrs.define(eq=False)
class UnconfirmedStore(MemoryStore):
    #: What the next append does once released; None: appends as usual.
    next_append: Unconfirmed | None = None
    #: Set when the held append has reached the store.
    sent: trio.Event = attrs.field(factory=trio.Event)
    release: trio.Event = attrs.field(factory=trio.Event)

    def hold_next_append(self, how: Unconfirmed) -> None:
        self.next_append = how
        self.sent = trio.Event()
        self.release = trio.Event()

    async def append_message(self, message: Message, *, owner: int) -> None:
        how, self.next_append = self.next_append, None
        if how is None:
            return await super().append_message(message, owner=owner)
        self.sent.set()
        await self.release.wait()
        if how is not Unconfirmed.LOST:
            await super().append_message(message, owner=owner)
        if how is not Unconfirmed.CONFIRMED:
            raise OutcomeUnknown()
        return None

    async def contents(self, chat_id: ChatId) -> list[str]:
        return [m.content for m in await self.read_messages(chat_id, MessagePage(limit=100))]
