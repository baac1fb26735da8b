"""Titles and members in ChatState, without Trio: who may do what, the system message each
change is logged as, and access that follows membership at once.

Policy: plain sync tests (``ChatState`` is sans-IO); the state is loaded as from a store, time
passed in. An error must leave the state as it was (``error_of`` checks it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chatactors.actors.chat_state import ChatState
from chatactors.actors.commands import (
    AddParticipants,
    AnyCommand,
    ChatChanged,
    DeleteMessage,
    EditMessage,
    GetChat,
    GetLog,
    GetMessages,
    GetPresence,
    GetReadMarks,
    MarkRead,
    PostMessage,
    React,
    RemoveParticipant,
    SetPresence,
    SetTitle,
    Subscribe,
    Unsubscribe,
)
from chatactors.actors.outcome import Outcome, SubscribePlan, UpdateChat
from chatactors.actors.subscription_id import SubscriptionId
from chatactors.domain.errors import (
    ChatError,
    InvalidInput,
    NotAParticipant,
    NotTheAdmin,
    ParticipantNotFound,
)
from chatactors.domain.events import ChatRead, ChatUpdated, MessageReceived, removed_by
from chatactors.domain.ids import BOT_USER, ChatId, UserId
from chatactors.domain.models import (
    Chat,
    ChatChange,
    ChatChangeKind,
    ChatKind,
    Message,
    MessageType,
    PresenceStatus,
    ReadMark,
)
from chatactors.storage.store import LoadedChat, MessagePage
from tests.conftest import counted_message_ids, make_chat_policy

ALICE, BOB, CAROL, DAVE = UserId("alice"), UserId("bob"), UserId("carol"), UserId("dave")
TEXT = MessageType.TEXT
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def new_state(
    *people: UserId,
    kind: ChatKind = ChatKind.GROUP,
    created_by: UserId | None = None,
    **settings: object,
) -> ChatState:
    chat = Chat(ChatId("c1"), (*(people or (ALICE, BOB, CAROL)), BOT_USER), T0, None, kind,
                created_by)  # fmt: skip
    loaded = LoadedChat(chat, (), 0, {}, {}, {})
    return ChatState.from_loaded(
        loaded, make_chat_policy(**settings), new_message_id=counted_message_ids()
    )


def run(state: ChatState, command: AnyCommand, *, at: float = 0.0) -> Outcome:
    outcome = state.apply(command, now=T0 + timedelta(seconds=at), clock=0.0)
    if outcome.error is None:
        state.commit(outcome)
    return outcome


def changed(state: ChatState, command: AnyCommand, *, at: float = 0.0) -> ChatChanged:
    outcome = run(state, command, at=at)
    assert outcome.error is None, outcome.error
    assert isinstance(outcome.result, ChatChanged)
    return outcome.result


def error_of(state: ChatState, command: AnyCommand) -> ChatError:
    """The command's error; the state is unchanged by it."""
    before = (state.chat, state.last_pos, list(state.messages), dict(state.presence))
    outcome = state.apply(command, now=T0, clock=0.0)
    assert outcome.error is not None
    assert (outcome.events, outcome.writes) == ((), ())
    assert (state.chat, state.last_pos, list(state.messages), dict(state.presence)) == before
    return outcome.error


def post(state: ChatState, user: UserId = ALICE) -> Message:
    outcome = run(state, PostMessage(user, TEXT, "hi"))
    assert outcome.error is None, outcome.error
    message: Message = outcome.result
    return message


# -- titles ----------------------------------------------------------------------------------


def test_a_title_is_a_system_message_at_the_next_position_and_the_chat_takes_it() -> None:
    state = new_state()
    post(state)
    outcome = run(state, SetTitle(BOB, "Team"), at=3)
    answer = outcome.result
    assert isinstance(answer, ChatChanged)
    message = answer.message
    assert message is not None
    assert (message.seq, message.pos, message.user_id, message.type) == (2, 2, BOB, TEXT)
    assert message.content == "bob named the chat \u201cTeam\u201d"
    assert message.system == ChatChange(ChatChangeKind.TITLE_CHANGED, BOB, title="Team")
    assert message.timestamp == T0 + timedelta(seconds=3)
    assert answer.info.chat.title == "Team"
    assert (answer.info.last_seq, answer.info.last_pos) == (2, 2)
    assert [type(e) for e in outcome.events] == [MessageReceived, ChatUpdated]
    assert outcome.events[1] == ChatUpdated(answer.info.chat, message.system)
    [write] = outcome.writes
    assert isinstance(write, UpdateChat)
    assert (write.update.chat, write.update.message) == (answer.info.chat, message)
    assert state.chat.title == "Team"
    assert list(state.messages)[-1] == message


def test_the_same_title_again_logs_nothing_and_null_clears_it() -> None:
    state = new_state()
    changed(state, SetTitle(ALICE, "Team"))
    again = run(state, SetTitle(BOB, "Team"))
    assert (again.events, again.writes) == ((), ())
    assert again.result == ChatChanged(state._info(), None)
    cleared = changed(state, SetTitle(CAROL, None))
    assert cleared.info.chat.title is None
    assert cleared.message is not None
    assert cleared.message.content == "carol removed the chat's title"
    assert state.last_pos == 2


@pytest.mark.parametrize("title", ["", "   ", "x" * 201, "two\nlines", "tab\there"])
def test_a_bad_title_is_422_and_changes_nothing(title: str) -> None:
    assert isinstance(error_of(new_state(), SetTitle(ALICE, title)), InvalidInput)


def test_only_a_participant_names_the_chat() -> None:
    assert isinstance(error_of(new_state(), SetTitle(DAVE, "mine")), NotAParticipant)


# -- adding ------------------------------------------------------------------------------------


def test_any_participant_adds_and_the_new_member_starts_read_at_the_addition() -> None:
    state = new_state()
    post(state, ALICE)
    outcome = run(state, AddParticipants(CAROL, (DAVE, ALICE, UserId("erin"))), at=5)
    answer = outcome.result
    assert isinstance(answer, ChatChanged)
    message = answer.message
    assert message is not None
    new = (DAVE, UserId("erin"))  # alice is in already
    assert message.system == ChatChange(ChatChangeKind.MEMBERS_ADDED, CAROL, users=new)
    assert message.content == "carol added dave and erin"
    assert state.chat.participants == (ALICE, BOB, CAROL, *new, BOT_USER)
    assert [type(e) for e in outcome.events] == [MessageReceived, ChatUpdated, ChatRead, ChatRead]
    marks = {mark.user_id: mark for mark in state.apply(GetReadMarks(), now=T0, clock=0).result}
    assert marks[DAVE] == ReadMark(DAVE, message.id, message.seq)
    [write] = outcome.writes
    assert isinstance(write, UpdateChat)
    assert {mark.user_id for mark in write.update.read_marks} == set(new)
    presence = state.apply(GetPresence(DAVE), now=T0, clock=0).result
    assert [p.user_id for p in presence] == list(state.chat.participants)
    assert presence[3].status is PresenceStatus.OFFLINE
    assert presence[3].last_seen == T0 + timedelta(seconds=5)  # when added


def test_a_member_added_later_reads_the_history_from_the_start() -> None:
    state = new_state()
    first = post(state)
    changed(state, AddParticipants(ALICE, (DAVE,)))
    page = state.apply(GetMessages(MessagePage(limit=10), DAVE), now=T0, clock=0).result
    assert [m.seq for m in page] == [1, 2]
    assert page[0] == first
    assert run(state, PostMessage(DAVE, TEXT, "hello all")).error is None
    plan = run(state, Subscribe(DAVE, after_seq=0)).result
    assert isinstance(plan, SubscribePlan)
    assert isinstance(plan.replay, tuple)
    assert [e.message.seq for e in plan.replay if isinstance(e, MessageReceived)] == [1, 2, 3]


def test_adding_members_in_already_logs_nothing() -> None:
    state = new_state()
    nothing = run(state, AddParticipants(ALICE, (BOB, CAROL, BOT_USER)))
    assert (nothing.events, nothing.writes, state.last_pos) == ((), (), 0)
    assert isinstance(nothing.result, ChatChanged)
    assert nothing.result.message is None


def test_a_one_to_one_chat_gains_no_members() -> None:
    state = new_state(ALICE, BOB, kind=ChatKind.DIRECT)
    error = error_of(state, AddParticipants(ALICE, (CAROL,)))
    assert isinstance(error, InvalidInput)
    assert "start a group" in str(error)


def test_adding_is_for_participants_and_within_the_limit() -> None:
    assert isinstance(error_of(new_state(), AddParticipants(DAVE, (DAVE,))), NotAParticipant)
    full = new_state(max_participants=4)
    error = error_of(full, AddParticipants(ALICE, (DAVE, UserId("erin"))))
    assert isinstance(error, InvalidInput)
    changed(full, AddParticipants(ALICE, (DAVE,)))  # the fourth fits


# -- removing and leaving ----------------------------------------------------------------------


def test_a_member_leaves_by_themself_and_loses_every_access_at_once() -> None:
    state = new_state()
    message = post(state, BOB)
    subscriber = run(state, Subscribe(BOB)).result
    assert isinstance(subscriber, SubscribePlan)
    outcome = run(state, RemoveParticipant(BOB, BOB), at=2)
    answer = outcome.result
    assert isinstance(answer, ChatChanged)
    assert answer.message is not None
    assert answer.message.system == ChatChange(ChatChangeKind.MEMBER_LEFT, BOB, users=(BOB,))
    assert answer.message.content == "bob left"
    assert removed_by(outcome.events[0]) == (BOB,)
    assert outcome.dropped == (subscriber.subscriber_id,)
    assert state.chat.participants == (ALICE, CAROL, BOT_USER)
    for command in (
        PostMessage(BOB, TEXT, "still here?"),
        GetMessages(MessagePage(limit=10), BOB),
        GetChat(BOB),
        GetPresence(BOB),
        GetReadMarks(BOB),
        GetLog(0, 10, 10, BOB),
        Subscribe(BOB, after_pos=0),
        SetPresence(BOB, PresenceStatus.TYPING),
        MarkRead(BOB),
        React(BOB, message.id, "👍"),
        EditMessage(BOB, message.id, "edited"),
        DeleteMessage(BOB, message.id),
        SetTitle(BOB, "mine"),
        AddParticipants(BOB, (BOB,)),
        RemoveParticipant(BOB, BOB),
    ):
        assert isinstance(error_of(state, command), NotAParticipant), command
    presence = state.apply(GetPresence(), now=T0, clock=0).result
    assert BOB not in [p.user_id for p in presence]  # gone from the chat, online or not
    assert BOB not in state.socket_users.values()
    # Their socket closing later changes nothing anyone sees.
    closed = run(state, Unsubscribe(SubscriptionId.local(subscriber.subscriber_id)))
    assert closed.events == ()


def test_the_admin_removes_others_and_nobody_else_does() -> None:
    state = new_state(created_by=BOB)
    assert state.chat.admin == BOB
    error = error_of(state, RemoveParticipant(ALICE, CAROL))
    assert isinstance(error, NotTheAdmin)
    removed = changed(state, RemoveParticipant(BOB, CAROL))
    assert removed.message is not None
    assert removed.message.system == ChatChange(ChatChangeKind.MEMBER_REMOVED, BOB, (CAROL,))
    assert removed.message.content == "bob removed carol"
    assert removed.info.chat.participants == (ALICE, BOB, BOT_USER)


def test_when_the_creator_leaves_the_longest_standing_member_is_admin() -> None:
    state = new_state(ALICE, BOB, CAROL, created_by=BOB)
    changed(state, RemoveParticipant(BOB, BOB))
    assert state.chat.admin == ALICE
    changed(state, RemoveParticipant(ALICE, CAROL))
    assert state.chat.participants == (ALICE, BOT_USER)


def test_removing_someone_not_in_the_chat_is_404_and_bot_user_stays() -> None:
    state = new_state()
    assert isinstance(error_of(state, RemoveParticipant(ALICE, DAVE)), ParticipantNotFound)
    bot = error_of(state, RemoveParticipant(ALICE, BOT_USER))
    assert isinstance(bot, InvalidInput)
    assert isinstance(error_of(state, RemoveParticipant(DAVE, ALICE)), NotAParticipant)


def test_in_a_one_to_one_chat_nobody_is_removed_but_either_may_leave() -> None:
    state = new_state(ALICE, BOB, kind=ChatKind.DIRECT)
    assert isinstance(error_of(state, RemoveParticipant(ALICE, BOB)), InvalidInput)
    changed(state, RemoveParticipant(BOB, BOB))
    assert state.chat.participants == (ALICE, BOT_USER)


def test_when_the_last_human_leaves_the_chat_keeps_its_history_and_only_bot_user() -> None:
    state = new_state(ALICE, BOB)
    post(state)
    changed(state, RemoveParticipant(ALICE, ALICE))
    changed(state, RemoveParticipant(BOB, BOB))
    assert state.chat.participants == (BOT_USER,)
    assert state.chat.admin is None
    assert [m.seq for m in state.messages] == [1, 2, 3]
    # Nobody is left to add anyone: the chat stays as it was.
    assert isinstance(error_of(state, AddParticipants(ALICE, (ALICE,))), NotAParticipant)


def test_a_removed_member_added_again_reads_everything_again() -> None:
    state = new_state()
    post(state, BOB)
    changed(state, RemoveParticipant(ALICE, BOB))
    post(state, ALICE)  # while bob was out
    back = changed(state, AddParticipants(CAROL, (BOB,)))
    assert back.info.chat.participants == (ALICE, CAROL, BOB, BOT_USER)
    page = state.apply(GetMessages(MessagePage(limit=10), BOB), now=T0, clock=0).result
    assert [m.seq for m in page] == [1, 2, 3, 4]


# -- system messages ---------------------------------------------------------------------------


def test_a_system_message_is_neither_edited_nor_deleted_but_takes_reactions() -> None:
    state = new_state()
    answer = changed(state, SetTitle(ALICE, "Team"))
    assert answer.message is not None
    system_id = answer.message.id
    assert isinstance(error_of(state, EditMessage(ALICE, system_id, "x")), InvalidInput)
    assert isinstance(error_of(state, DeleteMessage(ALICE, system_id)), InvalidInput)
    assert run(state, React(BOB, system_id, "🎉")).error is None


# -- mentions -----------------------------------------------------------------------------------


def test_mentions_name_the_members_of_the_moment_and_system_messages_nobody() -> None:
    """``@`` names whoever is a participant when the message is sent or edited: a member added
    since is named, one removed since is not, ``@all`` is the members of that moment."""
    state = new_state()  # alice, bob, carol
    early = run(state, PostMessage(ALICE, TEXT, "@dave @carol")).result
    assert early.mentions == (CAROL,)
    added = changed(state, AddParticipants(BOB, (DAVE,)))
    removed = changed(state, RemoveParticipant(ALICE, CAROL))
    assert added.message is not None
    assert removed.message is not None
    assert (added.message.mentions, removed.message.mentions) == ((), ())
    assert run(state, PostMessage(ALICE, TEXT, "@dave @carol")).result.mentions == (DAVE,)
    everyone = run(state, PostMessage(BOB, TEXT, "@all")).result
    assert everyone.mentions == (ALICE, DAVE, BOT_USER)
    edited = run(state, EditMessage(ALICE, early.id, "@dave @carol, again")).result
    assert edited.mentions == (DAVE,)
