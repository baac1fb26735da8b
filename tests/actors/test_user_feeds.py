"""UserFeeds: a chat's creation is announced to its participants' open feeds, never waiting."""

from __future__ import annotations

from datetime import UTC, datetime

import trio

from chatactors.actors.subscription import EndReason
from chatactors.actors.user_feeds import ChatAdded, UserFeeds, UserFeedsStatistics
from chatactors.domain.ids import ChatId, UserId
from chatactors.domain.models import Chat

ALICE, BOB = UserId("alice"), UserId("bob")


def chat(n: int, *participants: UserId) -> Chat:
    return Chat(ChatId(f"c{n}"), tuple(participants), datetime(2026, 1, 1, tzinfo=UTC))


def test_only_the_participants_feeds_hear_of_a_chat() -> None:
    feeds = UserFeeds()
    alice_send, alice_receive = trio.open_memory_channel[ChatAdded](4)
    bob_send, bob_receive = trio.open_memory_channel[ChatAdded](4)
    with (
        feeds.open_feed(ALICE, alice_send.send_nowait, lambda reason: None),
        feeds.open_feed(BOB, bob_send.send_nowait, lambda reason: None),
    ):
        feeds.announce(ChatAdded(chat(1, ALICE, UserId("carol"))))
        assert alice_receive.receive_nowait().chat.id == "c1"
        assert bob_receive.statistics().current_buffer_used == 0
        assert feeds.statistics() == UserFeedsStatistics(feeds=2, announced=1, dropped=0)
    assert feeds.statistics().feeds == 0
    feeds.announce(ChatAdded(chat(2, ALICE, BOB)))  # after the sockets closed: nobody to tell
    assert alice_receive.statistics().current_buffer_used == 0
    assert feeds.statistics().announced == 1


def test_a_full_feed_is_dropped_as_lagging_the_others_still_hear() -> None:
    feeds = UserFeeds()
    ended: list[EndReason] = []
    full_send, _full_receive = trio.open_memory_channel[ChatAdded](1)
    ok_send, ok_receive = trio.open_memory_channel[ChatAdded](4)
    with (
        feeds.open_feed(ALICE, full_send.send_nowait, ended.append),
        feeds.open_feed(ALICE, ok_send.send_nowait, lambda reason: None),
    ):
        feeds.announce(ChatAdded(chat(1, ALICE)))
        feeds.announce(ChatAdded(chat(2, ALICE)))
        assert ended == [EndReason.LAGGED]
        # Each offered to both feeds, but the full one only the first time: it was dropped.
        assert feeds.statistics() == UserFeedsStatistics(feeds=1, announced=4, dropped=1)
        assert [ok_receive.receive_nowait().chat.id for _ in range(2)] == ["c1", "c2"]
        feeds.announce(ChatAdded(chat(3, ALICE)))
        assert ended == [EndReason.LAGGED]  # told once; the dropped feed hears nothing more


def test_a_closed_feed_is_dropped_quietly() -> None:
    feeds = UserFeeds()
    ended: list[EndReason] = []
    send, receive = trio.open_memory_channel[ChatAdded](4)
    receive.close()
    with feeds.open_feed(BOB, send.send_nowait, ended.append):
        feeds.announce(ChatAdded(chat(1, BOB)))
        assert ended == []
        assert feeds.statistics() == UserFeedsStatistics(feeds=0, announced=1, dropped=1)
        feeds.announce(ChatAdded(chat(2, BOB)))  # dropped: not offered again
        assert feeds.statistics().announced == 1
