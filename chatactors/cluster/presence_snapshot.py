"""PresenceSnapshot: who the cluster was last told is online in a chat, kept in Redis.

A chat's presence lives in its actor, and dies with it: a node SIGKILLed takes with it the
knowledge of which users were online. The sockets on other nodes register again with the next
owner, but the users whose sockets died with the old one would stay "online" for every client
that saw them come online, and the new owner, starting from the store, would not know them.

So the owner keeps a Redis hash per chat, ``chatactors:presence:<chat_id>``: user -> status
for every user last published online or typing (offline removes the user). It is written by
the activation's publishing task, beside the events it publishes and only while the lease is
valid, so it says what the other nodes' sockets were told. The next activation reads it once,
after its claim (``Handover``). Writes are quiet (no reply read) and go in the pipeline that
publishes the events they record (``event_outbox.py``): no write of their own.

The hash expires ``ttl_s`` (``presence_snapshot_ttl_s``, a day) after its last change, so a
chat nobody activates again leaves nothing behind for long; a user online for longer than that
without a change is then not handed over (their sockets elsewhere register again and come
online once more; no offline).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from chatactors.cluster.redis import Arg, RedisLink
from chatactors.domain.events import ChatEvent, PresenceUpdated
from chatactors.domain.ids import ChatId, UserId
from chatactors.domain.models import PresenceStatus

#: A snapshot unchanged for this long is gone (a day: far longer than any handover takes).
SNAPSHOT_TTL_S = 24 * 3600


def snapshot_key(chat_id: ChatId) -> str:
    return f"chatactors:presence:{chat_id}"


def snapshot_commands(
    chat_id: ChatId, events: Sequence[ChatEvent], ttl_s: float = SNAPSHOT_TTL_S
) -> list[tuple[Arg, ...]]:
    """The Redis commands that record ``events``' presence changes (none if there are none)."""
    key = snapshot_key(chat_id)
    last: dict[UserId, PresenceStatus] = {}
    for event in events:
        if isinstance(event, PresenceUpdated):
            last[event.presence.user_id] = event.presence.status
    if not last:
        return []
    online = [
        (user, status) for user, status in last.items() if status is not PresenceStatus.OFFLINE
    ]
    offline = [user for user, status in last.items() if status is PresenceStatus.OFFLINE]
    commands: list[tuple[Arg, ...]] = []
    if online:
        commands.append(("HSET", key, *(part for pair in online for part in pair)))
    if offline:
        commands.append(("HDEL", key, *offline))
    commands.append(("EXPIRE", key, max(1, round(ttl_s))))
    return commands


def parse_snapshot(reply: Sequence[bytes | str]) -> dict[UserId, PresenceStatus]:
    """``HGETALL``'s flat reply as user -> status; entries this version cannot read are left
    out (they count as offline)."""
    snapshot: dict[UserId, PresenceStatus] = {}
    for user, status in zip(reply[::2], reply[1::2], strict=True):
        try:
            snapshot[UserId(_text(user))] = PresenceStatus(_text(status))
        except ValueError:
            continue
    return snapshot


@attrs.frozen
class PresenceSnapshot:
    """Every async method raises ``ClusterUnavailable`` when Redis does not answer in time."""

    _link: RedisLink
    #: A snapshot unchanged for this long expires.
    ttl_s: float = SNAPSHOT_TTL_S

    async def read(self, chat_id: ChatId) -> dict[UserId, PresenceStatus]:
        return parse_snapshot(await self._link.execute("HGETALL", snapshot_key(chat_id)))

    def commands(self, chat_id: ChatId, events: Sequence[ChatEvent]) -> list[tuple[Arg, ...]]:
        """The writes that record the presence changes among ``events``, to send (quietly)
        in the pipeline that publishes them (none if there are none)."""
        return snapshot_commands(chat_id, events, self.ttl_s)

    async def record(self, chat_id: ChatId, events: Sequence[ChatEvent]) -> None:
        """Record the presence changes among ``events`` now (nothing to do: no round trip)."""
        commands = self.commands(chat_id, events)
        if commands:
            await self._link.execute_many(commands, quiet=[True] * len(commands))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
