"""ChatState without Trio: plain sync tests of each decision, with time passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chatactors.actors.chat_state import (
    AppendMessage,
    ChatState,
    Outcome,
    ReadFromStore,
    SaveLastSeen,
    SaveReadMark,
    SubscribePlan,
)
from chatactors.actors.commands import (
    AnyCommand,
    GetMessages,
    MarkRead,
    PostMessage,
    SetPresence,
    Subscribe,
    Unsubscribe,
)
from chatactors.domain.errors import InvalidInput, NotAParticipant
from chatactors.domain.events import ChatEvent, ChatRead, MessageReceived, PresenceUpdated
from chatactors.domain.ids import BOT_USER, ChatId, UserId
from chatactors.domain.models import Chat, MessageType, PresenceStatus
from chatactors.storage.store import LoadedChat, MessagePage
from tests.conftest import make_settings

ALICE, BOB = UserId("alice"), UserId("bob")
TEXT = MessageType.TEXT
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def new_state(**settings: object) -> ChatState:
    chat = Chat(ChatId("c1"), (ALICE, BOB, BOT_USER), T0)
    loaded = LoadedChat(chat, (), 0, {}, {}, {})
    return ChatState.from_loaded(loaded, make_settings(**settings))


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
    assert state.expire_typing(109.9) == Outcome(typing=())
    expired = state.expire_typing(110.0)
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
    state = new_state()
    first = run(state, Subscribe(ALICE)).result
    assert isinstance(first, SubscribePlan)
    second = run(state, Subscribe(ALICE)).result
    assert first.subscriber_id != second.subscriber_id
    assert state.presence[ALICE].status is PresenceStatus.ONLINE
    assert run(state, Unsubscribe(first.subscriber_id)).events == ()
    last = run(state, Unsubscribe(second.subscriber_id), at=7)
    assert last.events == (PresenceUpdated(state.presence[ALICE]),)
    assert state.presence[ALICE].status is PresenceStatus.OFFLINE
    assert last.writes == (SaveLastSeen(ChatId("c1"), ALICE, T0 + timedelta(seconds=7)),)


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
    assert [m.seq for m in replay.replay] == [4, 5]
    too_old = run(state, Subscribe(after_seq=0)).result
    assert too_old.replay == ReadFromStore(MessagePage(limit=5, after_seq=0))
