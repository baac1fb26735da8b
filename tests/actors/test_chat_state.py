"""ChatState without Trio: plain sync tests of each decision, with time passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from chatactors.actors.chat_state import ChatState
from chatactors.actors.commands import (
    AnyCommand,
    GetMessages,
    MarkRead,
    PostMessage,
    SetPresence,
    Subscribe,
    Unsubscribe,
)
from chatactors.actors.outcome import (
    AppendMessage,
    GoingOffline,
    Outcome,
    ReadFromStore,
    SaveLastSeen,
    SaveReadMark,
    SubscribePlan,
)
from chatactors.actors.placement import Handover
from chatactors.actors.subscription_id import SubscriptionId
from chatactors.domain.errors import InvalidInput, NotAParticipant
from chatactors.domain.events import ChatEvent, ChatRead, MessageReceived, PresenceUpdated
from chatactors.domain.ids import BOT_USER, ChatId, UserId
from chatactors.domain.models import Chat, MessageType, PresenceStatus
from chatactors.storage.store import LoadedChat, MessagePage
from tests.conftest import counted_message_ids, make_chat_policy

ALICE, BOB = UserId("alice"), UserId("bob")
TEXT = MessageType.TEXT
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def new_state(**settings: object) -> ChatState:
    chat = Chat(ChatId("c1"), (ALICE, BOB, BOT_USER), T0)
    loaded = LoadedChat(chat, (), 0, {}, {}, {})
    return ChatState.from_loaded(
        loaded, make_chat_policy(**settings), new_message_id=counted_message_ids()
    )


def run(state: ChatState, command: AnyCommand, *, at: float = 0.0, clock: float = 0.0) -> Outcome:
    """Apply and commit, as the actor does once the writes succeeded."""
    outcome = state.apply(command, now=T0 + timedelta(seconds=at), clock=clock)
    state.commit(outcome)
    return outcome


def test_post_decides_a_message_event_and_write_but_changes_nothing_until_commit() -> None:
    state = new_state()
    outcome = state.apply(PostMessage(ALICE, TEXT, "hi"), now=T0, clock=0.0)
    message = outcome.result
    assert outcome.error is None
    assert (message.seq, message.user_id, message.content, message.timestamp) == (
        1,
        ALICE,
        "hi",
        T0,
    )
    assert outcome.events == (MessageReceived(message),)
    assert outcome.writes == (AppendMessage(message),)
    # Not committed (say, the write failed): the state is as it was.
    assert state.last_seq == 0
    assert list(state.messages) == []
    state.commit(outcome)
    assert state.last_seq == 1
    assert list(state.messages) == [message]


def test_a_repeated_client_message_id_answers_the_original_with_no_event_or_write() -> None:
    state = new_state()
    first = run(state, PostMessage(ALICE, TEXT, "once", "k1")).result
    again = state.apply(PostMessage(ALICE, TEXT, "once", "k1"), now=T0, clock=0.0)
    assert again.result is first
    assert (again.events, again.writes) == ((), ())
    # An uncommitted post leaves no idempotency key behind.
    state.apply(PostMessage(BOB, TEXT, "lost", "k2"), now=T0, clock=0.0)
    assert run(state, PostMessage(BOB, TEXT, "kept", "k2")).result.content == "kept"


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (PostMessage(UserId("mallory"), TEXT, "x"), NotAParticipant),
        (PostMessage(ALICE, TEXT, ""), InvalidInput),
        (SetPresence(UserId("mallory"), PresenceStatus.ONLINE), NotAParticipant),
        (MarkRead(UserId("mallory")), NotAParticipant),
        (GetMessages(MessagePage(limit=5), viewer=UserId("mallory")), NotAParticipant),
        (Subscribe(UserId("mallory")), NotAParticipant),
    ],
)
def test_refused_commands_are_errors_with_no_effects(command: AnyCommand, error: type) -> None:
    state = new_state()
    outcome = state.apply(command, now=T0, clock=0.0)
    assert isinstance(outcome.error, error)
    assert (outcome.events, outcome.writes, outcome.typing) == ((), (), ())


def test_a_wall_clock_that_steps_back_never_orders_messages_backwards() -> None:
    state = new_state()
    run(state, PostMessage(ALICE, TEXT, "a"), at=10)
    later = run(state, PostMessage(ALICE, TEXT, "b"), at=5).result
    assert later.timestamp == T0 + timedelta(seconds=10)


def presence_statuses(events: tuple[ChatEvent, ...]) -> list[PresenceStatus]:
    """The statuses of presence events; any other event fails the test."""
    statuses = []
    for event in events:
        assert isinstance(event, PresenceUpdated), event
        statuses.append(event.presence.status)
    return statuses


def test_typing_expires_at_the_monotonic_deadline_it_was_given() -> None:
    state = new_state(typing_timeout_s=10)
    assert state.next_deadline() is None
    outcome = run(state, SetPresence(ALICE, PresenceStatus.TYPING), clock=100.0)
    assert presence_statuses(outcome.events) == [PresenceStatus.TYPING]
    assert state.next_deadline() == 110.0
    assert state.expire(109.9) == Outcome()
    expired = state.expire(110.0)
    state.commit(expired)
    assert presence_statuses(expired.events) == [PresenceStatus.ONLINE]
    assert state.next_deadline() is None
    assert state.presence[ALICE].status is PresenceStatus.ONLINE


def test_going_offline_writes_last_seen_at_the_given_time() -> None:
    state = new_state()
    run(state, SetPresence(ALICE, PresenceStatus.ONLINE))
    outcome = run(state, SetPresence(ALICE, PresenceStatus.OFFLINE), at=42)
    moment = T0 + timedelta(seconds=42)
    assert outcome.writes == (SaveLastSeen(ChatId("c1"), ALICE, moment),)
    assert state.presence[ALICE].last_seen == moment
    # An unchanged status is neither written nor broadcast.
    assert run(state, SetPresence(ALICE, PresenceStatus.OFFLINE)).events == ()


def test_mark_read_moves_to_the_newest_message_once() -> None:
    state = new_state()
    newest = [run(state, PostMessage(ALICE, TEXT, f"m{i}")).result for i in range(3)][-1]
    outcome = run(state, MarkRead(BOB))
    assert outcome.events == (ChatRead(ChatId("c1"), BOB, newest.id, 3),)
    assert outcome.writes == (SaveReadMark(ChatId("c1"), outcome.result),)
    assert run(state, MarkRead(BOB)).events == ()


def test_sockets_drive_presence_until_the_last_one_leaves() -> None:
    state = new_state(presence_grace_s=0)  # no grace: offline as the last one leaves
    first = run(state, Subscribe(ALICE)).result
    assert isinstance(first, SubscribePlan)
    second = run(state, Subscribe(ALICE)).result
    assert first.subscriber_id != second.subscriber_id
    assert state.presence[ALICE].status is PresenceStatus.ONLINE
    assert run(state, Unsubscribe(SubscriptionId.local(first.subscriber_id))).events == ()
    last = run(state, Unsubscribe(SubscriptionId.local(second.subscriber_id)), at=7)
    assert last.events == (PresenceUpdated(state.presence[ALICE]),)
    assert state.presence[ALICE].status is PresenceStatus.OFFLINE
    assert last.writes == (SaveLastSeen(ChatId("c1"), ALICE, T0 + timedelta(seconds=7)),)


def with_socket(state: ChatState, user: UserId = ALICE) -> int:
    plan = run(state, Subscribe(user)).result
    assert isinstance(plan, SubscribePlan)
    return plan.subscriber_id


def test_the_last_socket_closing_starts_a_grace_and_offline_comes_at_its_deadline() -> None:
    state = new_state(presence_grace_s=5)
    socket = with_socket(state)
    closed = run(state, Unsubscribe(SubscriptionId.local(socket)), at=7, clock=100.0)
    assert (closed.events, closed.writes) == ((), ())
    assert state.presence[ALICE].status is PresenceStatus.ONLINE
    assert state.going_offline == {ALICE: GoingOffline(105.0, T0 + timedelta(seconds=7))}
    assert state.next_deadline() == 105.0
    assert state.expire(104.9) == Outcome()
    expired = state.expire(105.0)
    state.commit(expired)
    # Last seen when the socket closed, not when the grace ran out.
    last_seen = T0 + timedelta(seconds=7)
    assert presence_statuses(expired.events) == [PresenceStatus.OFFLINE]
    assert state.presence[ALICE].last_seen == last_seen
    assert expired.writes == (SaveLastSeen(ChatId("c1"), ALICE, last_seen),)
    assert state.next_deadline() is None


def test_a_socket_back_within_the_grace_publishes_nothing() -> None:
    state = new_state(presence_grace_s=5)
    run(state, Unsubscribe(SubscriptionId.local(with_socket(state))), clock=100.0)
    again = run(state, Subscribe(ALICE), clock=104.0)
    assert (again.events, again.writes) == ((), ())
    assert state.next_deadline() is None
    assert state.expire(1000.0) == Outcome()
    assert state.presence[ALICE].status is PresenceStatus.ONLINE
    # Its closing starts a grace of its own; a watcher (no user) opening does not end it.
    assert isinstance(again.result, SubscribePlan)
    run(state, Unsubscribe(SubscriptionId.local(again.result.subscriber_id)), clock=200.0)
    run(state, Subscribe(), clock=201.0)
    assert state.next_deadline() == 205.0


def test_a_socket_of_another_user_does_not_end_a_grace() -> None:
    state = new_state(presence_grace_s=5)
    run(state, Unsubscribe(SubscriptionId.local(with_socket(state))), clock=100.0)
    with_socket(state, BOB)
    assert state.next_deadline() == 105.0


def test_an_explicit_offline_within_the_grace_is_at_once_and_ends_it() -> None:
    state = new_state(presence_grace_s=5)
    run(state, Unsubscribe(SubscriptionId.local(with_socket(state))), at=1, clock=100.0)
    offline = run(state, SetPresence(ALICE, PresenceStatus.OFFLINE), at=3, clock=102.0)
    assert presence_statuses(offline.events) == [PresenceStatus.OFFLINE]
    assert offline.writes == (SaveLastSeen(ChatId("c1"), ALICE, T0 + timedelta(seconds=3)),)
    assert state.next_deadline() is None


@pytest.mark.parametrize("status", [PresenceStatus.ONLINE, PresenceStatus.TYPING])
def test_an_explicit_online_or_typing_within_the_grace_ends_it(status: PresenceStatus) -> None:
    state = new_state(presence_grace_s=5, typing_timeout_s=10)
    run(state, Unsubscribe(SubscriptionId.local(with_socket(state))), clock=100.0)
    run(state, SetPresence(ALICE, status), clock=102.0)
    assert state.going_offline == {}
    assert state.expire(1000.0).events == (
        (PresenceUpdated(attrs.evolve(state.presence[ALICE], status=PresenceStatus.ONLINE)),)
        if status is PresenceStatus.TYPING
        else ()
    )
    assert state.presence[ALICE].status is status


def test_typing_ends_with_the_last_socket_and_offline_follows_after_the_grace() -> None:
    state = new_state(presence_grace_s=5, typing_timeout_s=10)
    socket = with_socket(state)
    run(state, SetPresence(ALICE, PresenceStatus.TYPING), clock=100.0)
    closed = run(state, Unsubscribe(SubscriptionId.local(socket)), clock=101.0)
    assert presence_statuses(closed.events) == [PresenceStatus.ONLINE]
    assert state.typing_until == {}
    assert state.next_deadline() == 106.0
    assert presence_statuses(state.expire(106.0).events) == [PresenceStatus.OFFLINE]


def test_with_no_grace_the_last_socket_takes_a_typing_user_offline_at_once() -> None:
    state = new_state(presence_grace_s=0)
    socket = with_socket(state)
    run(state, SetPresence(ALICE, PresenceStatus.TYPING), clock=100.0)
    closed = run(state, Unsubscribe(SubscriptionId.local(socket)), clock=101.0)
    assert presence_statuses(closed.events) == [PresenceStatus.OFFLINE]
    assert state.next_deadline() is None


def test_a_user_already_offline_gets_no_grace() -> None:
    state = new_state(presence_grace_s=5)
    socket = with_socket(state)
    run(state, SetPresence(ALICE, PresenceStatus.OFFLINE))
    closed = run(state, Unsubscribe(SubscriptionId.local(socket)), clock=100.0)
    assert (closed.events, closed.writes, closed.offline) == ((), (), ())
    assert state.next_deadline() is None


def test_ending_the_graces_takes_every_user_in_one_offline_now() -> None:
    state = new_state(presence_grace_s=5, typing_timeout_s=10)
    run(state, Unsubscribe(SubscriptionId.local(with_socket(state, ALICE))), at=1, clock=100.0)
    run(state, Unsubscribe(SubscriptionId.local(with_socket(state, BOB))), at=2, clock=101.0)
    run(state, SetPresence(BOT_USER, PresenceStatus.TYPING), clock=101.0)
    ended = state.end_graces()
    state.commit(ended)
    assert presence_statuses(ended.events) == [PresenceStatus.OFFLINE] * 2
    assert set(ended.writes) == {
        SaveLastSeen(ChatId("c1"), ALICE, T0 + timedelta(seconds=1)),
        SaveLastSeen(ChatId("c1"), BOB, T0 + timedelta(seconds=2)),
    }
    # Typing is left to its own timer.
    assert state.next_deadline() == 111.0


def taken_over(
    presence: dict[UserId, PresenceStatus], *, catch_up_s: float = 3.0, **settings: object
) -> ChatState:
    """A state loaded by a new activation at clock 100 (wall time T0 + 50 s), handed over
    ``presence`` by the one before."""
    chat = Chat(ChatId("c1"), (ALICE, BOB, BOT_USER), T0)
    loaded = LoadedChat(chat, (), 0, {}, {}, {})
    handover = Handover(presence, catch_up_s=catch_up_s)
    now = T0 + timedelta(seconds=50)
    return ChatState.from_loaded(
        loaded, make_chat_policy(**settings), handover, new_message_id=counted_message_ids(),
        now=now, clock=100.0,
    )  # fmt: skip


def test_users_handed_over_online_stay_online_and_their_sockets_coming_back_publish_nothing() -> (
    None
):
    state = taken_over({ALICE: PresenceStatus.ONLINE, BOB: PresenceStatus.ONLINE},
                       presence_grace_s=1)  # fmt: skip
    assert state.presence[ALICE].status is PresenceStatus.ONLINE
    # The grace is the catch-up (a lease), longer than the presence grace here.
    assert state.next_deadline() == 103.0
    again = run(state, Subscribe(ALICE), clock=101.0)
    assert (again.events, again.writes) == ((), ())
    assert ALICE not in state.going_offline
    # bob's socket never came back (it died with the old owner): offline when the grace ends,
    # last seen when the new owner took over.
    expired = state.expire(103.0)
    state.commit(expired)
    assert expired.events == (PresenceUpdated(state.presence[BOB]),)
    assert state.presence[BOB].status is PresenceStatus.OFFLINE
    assert expired.writes == (SaveLastSeen(ChatId("c1"), BOB, T0 + timedelta(seconds=50)),)
    assert state.presence[ALICE].status is PresenceStatus.ONLINE


def test_a_handover_waits_at_least_the_presence_grace_and_keeps_typing_on_its_timer() -> None:
    state = taken_over({BOB: PresenceStatus.TYPING}, presence_grace_s=5, typing_timeout_s=2)
    assert state.presence[BOB].status is PresenceStatus.TYPING
    assert state.next_deadline() == 102.0
    assert presence_statuses(state.expire(102.0).events) == [PresenceStatus.ONLINE]
    assert state.going_offline[BOB].until == 105.0


def test_a_handover_names_only_participants_and_never_offline_users() -> None:
    state = taken_over({UserId("stranger"): PresenceStatus.ONLINE, ALICE: PresenceStatus.OFFLINE})
    assert "stranger" not in state.presence
    assert state.presence[ALICE].status is PresenceStatus.OFFLINE
    assert state.next_deadline() is None
    # A user who was not handed over comes online as always.
    assert presence_statuses(run(state, Subscribe(ALICE)).events) == [PresenceStatus.ONLINE]


def test_pages_outside_the_window_are_read_from_the_store() -> None:
    state = new_state(history_window=3)
    for i in range(5):
        run(state, PostMessage(ALICE, TEXT, f"m{i}"))
    in_window = run(state, GetMessages(MessagePage(limit=2))).result
    assert [m.seq for m in in_window] == [4, 5]
    assert run(state, GetMessages(MessagePage(limit=5))).result == ReadFromStore(
        MessagePage(limit=5)
    )
    replay = run(state, Subscribe(after_seq=3)).result
    assert [e.message.seq for e in replay.replay] == [4, 5]
    too_old = run(state, Subscribe(after_seq=0)).result
    assert too_old.replay == ReadFromStore(MessagePage(limit=5, after_seq=0))
