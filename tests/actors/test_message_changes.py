"""Edits, deletions, reactions and replies in ChatState, without Trio: each rule, each error,
and the log positions they take.

Policy: plain sync tests (``ChatState`` is sans-IO); the state is loaded as from a store, time
passed in. An error must leave the state as it was (the outcome is committed anyway, as the
actor would not: ``run`` commits only what succeeded).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from chatactors.actors.chat_state import ChatState
from chatactors.actors.commands import (
    AnyCommand,
    DeleteMessage,
    EditMessage,
    GetLog,
    PostMessage,
    React,
    Subscribe,
)
from chatactors.actors.outcome import (
    ChangeMessage,
    FindMessage,
    Found,
    Outcome,
    ReadLogFromStore,
    SubscribePlan,
)
from chatactors.domain.errors import (
    ChatError,
    InvalidInput,
    MessageDeleted,
    MessageNotFound,
    NotAParticipant,
    NotTheAuthor,
)
from chatactors.domain.events import LogEvent, MessageReceived, MessageUpdated
from chatactors.domain.ids import BOT_USER, ChatId, MessageId, UserId
from chatactors.domain.models import ChangeKind, Chat, Message, MessageType, Reaction
from chatactors.storage.store import LoadedChat, LogPage, MessageChange
from tests.conftest import counted_message_ids, make_chat_policy

ALICE, BOB, EVE = UserId("alice"), UserId("bob"), UserId("eve")
TEXT = MessageType.TEXT
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def new_state(*recent: Message, last_pos: int = 0, **settings: object) -> ChatState:
    chat = Chat(ChatId("c1"), (ALICE, BOB, BOT_USER), T0)
    last_seq = recent[-1].seq if recent else 0
    loaded = LoadedChat(chat, recent, last_seq, {}, {}, {}, last_pos=last_pos or last_seq)
    return ChatState.from_loaded(
        loaded, make_chat_policy(**settings), new_message_id=counted_message_ids()
    )


def run(
    state: ChatState, command: AnyCommand, *, at: float = 0.0, found: Found | None = None
) -> Outcome:
    outcome = state.apply(command, now=T0 + timedelta(seconds=at), clock=0.0, found=found)
    if outcome.error is None:
        state.commit(outcome)
    return outcome


def post(state: ChatState, content: str = "hi", user: UserId = ALICE, **fields: Any) -> Message:
    outcome = run(state, PostMessage(user, TEXT, content, **fields))
    assert outcome.error is None, outcome.error
    message: Message = outcome.result
    return message


def error_of(state: ChatState, command: AnyCommand, found: Found | None = None) -> ChatError:
    """The command's error; the state is unchanged by it."""
    before = (state.last_pos, list(state.messages))
    outcome = state.apply(command, now=T0, clock=0.0, found=found)
    assert outcome.error is not None
    assert (outcome.events, outcome.writes) == ((), ())
    assert (state.last_pos, list(state.messages)) == before
    return outcome.error


def entries(log: list[LogEvent] | tuple[LogEvent, ...]) -> list[tuple[str, int, int]]:
    return [
        ("updated", e.pos, e.message.seq)
        if isinstance(e, MessageUpdated)
        else ("received", e.message.pos, e.message.seq)
        for e in log
    ]


def test_every_message_and_change_takes_the_next_position_and_seq_counts_messages() -> None:
    state = new_state()
    first = post(state)
    edit = run(state, EditMessage(ALICE, first.id, "fixed"), at=5)
    react = run(state, React(BOB, first.id, "👍"))
    second = post(state, "two", BOB)
    assert (first.seq, first.pos, second.seq, second.pos) == (1, 1, 2, 4)
    assert (state.last_seq, state.last_pos) == (2, 4)
    edited = edit.result
    assert (edited.content, edited.id) == ("fixed", first.id)
    assert edited.edited_at == T0 + timedelta(seconds=5)
    assert edit.events == (MessageUpdated(edited, 2, ChangeKind.EDITED),)
    assert edit.writes == (ChangeMessage(MessageChange(edited, 2, ChangeKind.EDITED, 1)),)
    assert react.result.reactions == (Reaction("👍", (BOB,)),)
    assert react.result.content == "fixed"  # the whole new state
    assert list(state.messages) == [react.result, second]


def test_a_reply_names_a_message_of_the_chat() -> None:
    state = new_state()
    first = post(state)
    reply = post(state, "re", BOB, reply_to=first.id)
    assert reply.reply_to == first.id
    error = error_of(state, PostMessage(BOB, TEXT, "re", reply_to=MessageId("nope")))
    assert isinstance(error, InvalidInput)
    assert "reply_to" in str(error)


def test_only_the_author_edits_a_text_message_once_not_deleted() -> None:
    state = new_state()
    text = post(state)
    image = run(state, PostMessage(ALICE, MessageType.IMAGE, "https://x/y.png")).result
    assert isinstance(error_of(state, EditMessage(BOB, text.id, "mine now")), NotTheAuthor)
    assert isinstance(error_of(state, EditMessage(EVE, text.id, "x")), NotAParticipant)
    assert isinstance(error_of(state, EditMessage(ALICE, MessageId("no"), "x")), MessageNotFound)
    assert isinstance(error_of(state, EditMessage(ALICE, image.id, "x")), InvalidInput)
    assert isinstance(error_of(state, EditMessage(ALICE, text.id, "")), InvalidInput)
    run(state, DeleteMessage(ALICE, text.id))
    assert isinstance(error_of(state, EditMessage(ALICE, text.id, "back")), MessageDeleted)


def test_an_edit_to_the_same_text_changes_nothing() -> None:
    state = new_state()
    message = post(state, "same")
    outcome = run(state, EditMessage(ALICE, message.id, "same"))
    assert (outcome.result, outcome.events, outcome.writes) == (message, (), ())
    assert state.last_pos == 1


def test_delete_removes_content_and_reactions_keeps_the_rest_and_is_idempotent() -> None:
    state = new_state()
    message = post(state, "oops", client_message_id="c1")
    run(state, React(BOB, message.id, "👍"))
    assert isinstance(error_of(state, DeleteMessage(BOB, message.id)), NotTheAuthor)
    deleted = run(state, DeleteMessage(ALICE, message.id))
    gone = deleted.result
    assert (gone.deleted, gone.content, gone.reactions) == (True, "", ())
    assert (gone.id, gone.seq, gone.user_id, gone.timestamp) == (
        message.id, message.seq, message.user_id, message.timestamp,
    )  # fmt: skip
    assert deleted.events == (MessageUpdated(gone, 3, ChangeKind.DELETED),)
    again = run(state, DeleteMessage(ALICE, message.id))
    assert (again.result, again.events, again.writes) == (gone, (), ())
    # A retried send answers the message as it is now: its text does not come back.
    retried = run(state, PostMessage(ALICE, TEXT, "oops", client_message_id="c1"))
    assert retried.result == gone
    assert retried.writes == ()


def test_reactions_are_sets_of_users_per_emoji_in_order() -> None:
    state = new_state()
    message = post(state)
    for user, emoji in [(BOB, "👍"), (ALICE, "🎉"), (ALICE, "👍"), (BOB, "👍")]:
        run(state, React(user, message.id, emoji))
    current = state.log.find(message.id)
    assert current is not None
    assert current.reactions == (Reaction("👍", (BOB, ALICE)), Reaction("🎉", (ALICE,)))
    assert state.last_pos == 4  # bob's second 👍 changed nothing
    removed = run(state, React(BOB, message.id, "👍", add=False))
    assert removed.result.reactions == (Reaction("👍", (ALICE,)), Reaction("🎉", (ALICE,)))
    assert removed.events[0] == MessageUpdated(removed.result, 5, ChangeKind.REACTION_REMOVED)
    last = run(state, React(ALICE, message.id, "🎉", add=False))
    assert last.result.reactions == (Reaction("👍", (ALICE,)),)
    nothing = run(state, React(BOB, message.id, "🎉", add=False))
    assert (nothing.events, nothing.writes) == ((), ())


def test_reaction_keys_are_checked_and_bounded() -> None:
    state = new_state(max_reaction_keys=2)
    message = post(state)
    run(state, React(BOB, message.id, "👍"))
    run(state, React(BOB, message.id, ":party_parrot:"))
    assert isinstance(error_of(state, React(BOB, message.id, "🎉")), InvalidInput)
    run(state, React(ALICE, message.id, "👍"))  # an existing key is always fine
    for bad in ["", "ab", "👍👍", "a", " ", ":Bad Name:", "::", "x" * 40, "👍\x00"]:
        assert isinstance(error_of(state, React(BOB, message.id, bad)), InvalidInput), bad
    assert isinstance(error_of(state, React(EVE, message.id, "👍")), NotAParticipant)


def test_a_deleted_message_cannot_be_reacted_to_but_unreacting_is_a_no_op() -> None:
    state = new_state()
    message = post(state)
    run(state, DeleteMessage(ALICE, message.id))
    assert isinstance(error_of(state, React(BOB, message.id, "👍")), MessageDeleted)
    outcome = run(state, React(BOB, message.id, "👍", add=False))
    assert (outcome.result.deleted, outcome.events) == (True, ())


def test_a_message_older_than_the_window_is_asked_of_the_store() -> None:
    """The window holds seqs 2-3 of a longer chat: message 1 is found through the actor."""
    chat_id = ChatId("c1")
    old = Message(MessageId("m1"), chat_id, 1, ALICE, TEXT, "old", T0, pos=1)
    recent = [
        Message(MessageId(f"m{seq}"), chat_id, seq, BOB, TEXT, "new", T0, pos=seq) for seq in (2, 3)
    ]
    state = new_state(*recent, history_window=2)
    edit = EditMessage(ALICE, old.id, "edited")
    asked = state.apply(edit, now=T0, clock=0.0)
    assert asked.result == FindMessage(old.id)
    assert (asked.events, asked.writes) == ((), ())
    outcome = run(state, edit, found=Found(old.id, old))
    assert outcome.result.content == "edited"
    assert outcome.events == (MessageUpdated(outcome.result, 4, ChangeKind.EDITED),)
    unknown = EditMessage(ALICE, MessageId("m9"), "x")
    assert state.apply(unknown, now=T0, clock=0.0).result == FindMessage(MessageId("m9"))
    assert isinstance(error_of(state, unknown, Found(MessageId("m9"), None)), MessageNotFound)
    # The window is the whole chat: an unknown id is unknown without asking.
    assert isinstance(error_of(new_state(), unknown), MessageNotFound)


def test_a_subscriber_after_a_position_gets_every_entry_after_it_with_current_states() -> None:
    state = new_state()
    m1 = post(state)  # 1
    m2 = post(state, "b", BOB)  # 2
    run(state, EditMessage(ALICE, m1.id, "a!"))  # 3
    run(state, React(ALICE, m2.id, "👍"))  # 4
    post(state, "c")  # 5
    run(state, DeleteMessage(ALICE, m1.id))  # 6
    plan = run(state, Subscribe(after_pos=2)).result
    assert isinstance(plan, SubscribePlan)
    assert (plan.latest_seq, plan.latest_pos) == (3, 6)
    assert isinstance(plan.replay, tuple)
    assert entries(plan.replay) == [("updated", 3, 1), ("updated", 4, 2), ("received", 5, 3),
                                    ("updated", 6, 1)]  # fmt: skip
    assert plan.replay[0].message.deleted  # as it is now
    everything = run(state, Subscribe(after_pos=0)).result.replay
    assert [pos for _, pos, _ in entries(everything)] == [1, 2, 3, 4, 5, 6]
    assert run(state, Subscribe(after_pos=6)).result.replay == ()
    assert run(state, Subscribe(after_pos=60)).result.replay == ()
    by_seq = run(state, Subscribe(after_seq=1)).result.replay
    assert by_seq == (MessageReceived(state.log.window[1]), MessageReceived(state.log.window[2]))
    log = run(state, GetLog(after_pos=3, through_pos=5, limit=10)).result
    assert entries(log) == [("updated", 4, 2), ("received", 5, 3)]


def test_positions_memory_no_longer_holds_are_read_from_the_store() -> None:
    # Loaded with a past: what came before this activation is in the store only.
    chat_id = ChatId("c1")
    loaded = [
        Message(MessageId(f"m{s}"), chat_id, s, BOB, TEXT, "x", T0, pos=s + 1) for s in (2, 3)
    ]
    state = new_state(*loaded, last_pos=4, max_replay=100)
    assert run(state, Subscribe(after_pos=3)).result.replay == ReadLogFromStore(LogPage(3, 1, 4))
    post(state)  # 5
    assert entries(run(state, Subscribe(after_pos=4)).result.replay) == [("received", 5, 4)]
    # A change to a message older than the window: its state is in the store only.
    small = new_state(*loaded, last_pos=4, history_window=2)
    older = Message(MessageId("m0"), chat_id, 1, ALICE, TEXT, "zero", T0, pos=1)
    run(small, React(BOB, MessageId("m0"), "👍"), found=Found(MessageId("m0"), older))
    replay = run(small, Subscribe(after_pos=4)).result.replay
    assert replay == ReadLogFromStore(LogPage(4, 1, 5))


def test_a_replay_longer_than_the_bound_asks_for_a_resync() -> None:
    state = new_state(max_replay=3)
    message = post(state)
    for emoji in ["👍", "🎉", "😄"]:
        run(state, React(BOB, message.id, emoji))
    plan = run(state, Subscribe(after_pos=0)).result
    assert (plan.resync_required, plan.replay) == (True, ())
    assert attrs.evolve(plan, resync_required=False).replay == ()
    assert run(state, Subscribe(after_pos=1)).result.resync_required is False


@pytest.mark.parametrize(
    "emoji", ["👍", "👍🏽", "🇫🇷", "1️⃣", "❤️", "❤", "👨‍👩‍👧‍👦", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", ":+1:", ":thumbs_up:", "™"]
)
def test_an_emoji_key_is_one_emoji_or_a_short_name(emoji: str) -> None:
    state = new_state()
    message = post(state)
    assert run(state, React(BOB, message.id, emoji)).result.reactions[0].emoji == emoji


def test_a_text_message_carries_its_mentions_found_when_sent_and_when_edited() -> None:
    state = new_state()
    sent = post(state, "@bob and @eve and @alice, @all?", ALICE)
    # eve is no participant; the author is never among them; @all: everyone else in chat order
    assert sent.mentions == (BOB, BOT_USER)
    assert post(state, "ping @[alice]", BOB).mentions == (ALICE,)
    image = run(state, PostMessage(BOB, MessageType.IMAGE, "http://x/@alice.png")).result
    assert image.mentions == ()
    edited = run(state, EditMessage(ALICE, sent.id, "only @bot_user now")).result
    assert edited.mentions == (BOT_USER,)
    assert state.log.find(sent.id) == edited
    deleted = run(state, DeleteMessage(ALICE, sent.id)).result
    assert deleted.mentions == ()
