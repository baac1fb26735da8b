"""PresenceSnapshot: what an owner records of the presence it publishes, read back by the next
owner, against a real Redis."""

from __future__ import annotations

from datetime import UTC, datetime

import trio

from chatactors.cluster.presence_snapshot import (
    SNAPSHOT_TTL_S,
    PresenceSnapshot,
    snapshot_commands,
    snapshot_key,
)
from chatactors.cluster.redis import RedisLink
from chatactors.domain.events import ChatEvent, MessageReceived, PresenceUpdated
from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import Message, MessageType, Presence, PresenceStatus

CHAT = ChatId("c1")
T0 = datetime(2026, 12, 1, tzinfo=UTC)


def presence(user: str, status: PresenceStatus) -> PresenceUpdated:
    return PresenceUpdated(Presence(UserId(user), status, T0))


def test_messages_alone_cost_no_command() -> None:
    message = Message(MessageId("m1"), CHAT, 1, UserId("ann"), MessageType.TEXT, "hi", T0)
    assert snapshot_commands(CHAT, [MessageReceived(message)]) == []


def test_each_users_last_status_in_a_batch_is_what_is_recorded() -> None:
    events: list[ChatEvent] = [
        presence("ann", PresenceStatus.ONLINE),
        presence("bob", PresenceStatus.TYPING),
        presence("ann", PresenceStatus.OFFLINE),
    ]
    key = snapshot_key(CHAT)
    assert snapshot_commands(CHAT, events) == [
        ("HSET", key, "bob", PresenceStatus.TYPING),
        ("HDEL", key, "ann"),
        ("EXPIRE", key, SNAPSHOT_TTL_S),
    ]


async def test_what_one_owner_records_the_next_reads(link: RedisLink) -> None:
    with trio.fail_after(10):
        snapshot = PresenceSnapshot(link)
        assert await snapshot.read(CHAT) == {}
        await snapshot.record(CHAT, [presence("ann", PresenceStatus.ONLINE)])
        await snapshot.record(CHAT, [presence("zoë", PresenceStatus.TYPING)])
        await snapshot.record(CHAT, [presence("bob", PresenceStatus.ONLINE)])
        await snapshot.record(CHAT, [presence("bob", PresenceStatus.OFFLINE)])
        assert await snapshot.read(CHAT) == {
            "ann": PresenceStatus.ONLINE,
            "zoë": PresenceStatus.TYPING,
        }
        assert 0 < await link.execute("TTL", snapshot_key(CHAT)) <= SNAPSHOT_TTL_S
        # A status this version does not know counts as offline.
        await link.execute("HSET", snapshot_key(CHAT), "cat", "away")
        assert "cat" not in await snapshot.read(CHAT)
        # Everyone offline: nothing is left behind.
        await snapshot.record(
            CHAT,
            [presence("ann", PresenceStatus.OFFLINE), presence("zoë", PresenceStatus.OFFLINE)],
        )
        await link.execute("HDEL", snapshot_key(CHAT), "cat")
        assert await link.execute("EXISTS", snapshot_key(CHAT)) == 0
