"""Helpers to read a Subscription's typed events in tests."""

from __future__ import annotations

import trio

from chatactors.actors.subscription import Subscription
from chatactors.domain.events import (
    ChatEvent,
    ChatRead,
    ChatUpdated,
    LogEvent,
    MessageReceived,
    MessageUpdated,
    PresenceUpdated,
)


def drain(subscription: Subscription) -> list[ChatEvent]:
    """Every event queued right now."""
    events: list[ChatEvent] = []
    while True:
        try:
            events.append(subscription.receive_nowait().event)
        except (trio.WouldBlock, trio.EndOfChannel):
            return events


def seqs(events: list[ChatEvent] | tuple[LogEvent, ...]) -> list[int]:
    """The seq of each message event."""
    return [e.message.seq for e in events if isinstance(e, MessageReceived)]


def summary(event: ChatEvent) -> tuple[str, str, str]:
    """(event, user, what): a compact view of an event for order assertions."""
    match event:
        case PresenceUpdated(presence):
            return ("presence", presence.user_id, presence.status.value)
        case ChatRead(_, user_id, _, seq):
            return ("read", user_id, str(seq))
        case MessageReceived(message):
            return ("message", message.user_id, message.type.value)
        case MessageUpdated(message, _, change):
            return ("updated", message.user_id, change.value)
        case ChatUpdated(_, change):
            return ("chat", change.by, change.kind.value)
