"""Helpers to read a Subscription's frames in tests."""

from __future__ import annotations

from typing import Any

import orjson
import trio

from chatactors.actors.subscription import Subscription


def drain(subscription: Subscription) -> list[dict[str, Any]]:
    """Every frame queued right now, decoded."""
    frames = []
    while True:
        try:
            frames.append(orjson.loads(subscription.receive_nowait()))
        except (trio.WouldBlock, trio.EndOfChannel):
            return frames


def summary(frame: dict[str, Any]) -> tuple[str, str, str]:
    """(event, user, what): a compact view of an event for order assertions."""
    data = frame["data"]
    if frame["event"] == "presence_updated":
        return ("presence", data["user_id"], data["status"])
    if frame["event"] == "chat_read":
        return ("read", data["user_id"], str(data["last_read_seq"]))
    return ("message", data["user_id"], data["type"])
