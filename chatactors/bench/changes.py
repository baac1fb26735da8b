"""Changes mixed into the fanout workload (``--edit-ratio``): edits and reactions.

A share of the schedule's operations, spread evenly, changes the chat's newest bench message
instead of sending a new one: an edit (its content becomes a new token) or a reaction (a new key
that names the operation, ``:b<worker>-<n>:``). Each change is an operation of the ledger like a
message, owed once to every socket of its chat, which receives it as a ``message_updated`` of
``chatactors.v1`` (reference sockets never get one). A receiver recognises the change by the
token the update brings that the socket had not seen: the edit's content, or the new key.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Literal
from urllib.parse import quote

import attrs
import orjson

from chatactors.bench.tokens import parse_token

#: Bench reactions on one message at most, under the server's bound on distinct keys (20 by
#: default); past it the change is an edit.
REACTION_CAP = 15
USER = "u0"


def is_change(i: int, ratio: float) -> bool:
    """Whether operation ``i`` of the schedule is a change: ``ratio`` of them, evenly spread."""
    return ratio > 0 and math.floor((i + 1) * ratio) > math.floor(i * ratio)


@attrs.frozen
class Change:
    kind: Literal["edit", "react"]
    message_id: str


def reaction_key(worker: int, n: int) -> str:
    return f":b{worker}-{n}:"


def parse_reaction_key(key: str) -> tuple[int, int] | None:
    """(worker, n) of a bench reaction key; None for any other key."""
    if not (key.startswith(":b") and key.endswith(":")):
        return None
    worker, _, n = key[2:-1].partition("-")
    if not (worker.isdigit() and n.isdigit()):
        return None
    return int(worker), int(n)


@attrs.define(eq=False)
class ChangeMix:
    """Which operations change what, for one worker."""

    ratio: float
    #: The newest accepted bench message of each chat, the target of its changes.
    targets: dict[int, str] = attrs.field(factory=dict)
    _reactions: Counter[int] = attrs.field(factory=Counter)
    made: int = 0

    def learn(self, chat: int, message_id: str) -> None:
        """A message of ``chat`` was accepted: later changes go to it."""
        self.targets[chat] = message_id
        self._reactions[chat] = 0

    def next_change(self, i: int, chat: int) -> Change | None:
        """The change operation ``i`` makes, or None if it sends a message (no target yet)."""
        target = self.targets.get(chat)
        if target is None or not is_change(i, self.ratio):
            return None
        self.made += 1
        if self.made % 2 and self._reactions[chat] < REACTION_CAP:
            self._reactions[chat] += 1
            return Change("react", target)
        return Change("edit", target)


def request(chat_id: str, change: Change, content: str, key: str) -> tuple[str, str, bytes]:
    """The HTTP request of a change: method, path, body (acting as the bench's author)."""
    path = f"/chats/{chat_id}/messages/{change.message_id}"
    if change.kind == "edit":
        return "PATCH", path, orjson.dumps({"user_id": USER, "content": content})
    return "PUT", f"{path}/reactions/{quote(key, safe='')}", orjson.dumps({"user_id": USER})


def command(ref: str, change: Change, content: str, key: str) -> dict[str, str]:
    """The ``chatactors.v1`` command of a change."""
    if change.kind == "edit":
        return {"op": "edit", "ref": ref, "message_id": change.message_id, "content": content}
    return {"op": "react", "ref": ref, "message_id": change.message_id, "emoji": key}


def operations_in(data: dict[str, Any]) -> list[tuple[int, int, int | None]]:
    """(worker, n, send_ns or None) of every bench operation a message's state shows: its
    content's token, and each bench reaction key (whose send time the sender keeps)."""
    found: list[tuple[int, int, int | None]] = []
    token = parse_token(data.get("content"))
    if token is not None:
        found.append((token.worker, token.n, token.send_ns))
    reactions = data.get("reactions")
    if isinstance(reactions, dict):
        for key in reactions:
            parsed = parse_reaction_key(key) if isinstance(key, str) else None
            if parsed is not None:
                found.append((*parsed, None))
    return found
