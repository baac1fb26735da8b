"""ChatPolicy: what a chat's state applies, made from the settings by the registry; the ids of
new messages come from the source the state is given (random UUIDs in an actor)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import attrs
import pytest

from chatactors.actors.chat_policy import ChatPolicy
from chatactors.actors.chat_state import ChatState
from chatactors.actors.commands import AnyCommand, ChatChanged, PostMessage, React, SetTitle
from chatactors.actors.outcome import Outcome
from chatactors.actors.registry import chat_policy
from chatactors.domain.errors import InvalidInput
from chatactors.domain.ids import BOT_USER, ChatId, MessageId, UserId
from chatactors.domain.models import Chat, Message, MessageType
from chatactors.domain.rules import Limits
from chatactors.storage.store import LoadedChat
from tests.conftest import counted_message_ids, make_settings, running_registry

ALICE, BOB = UserId("alice"), UserId("bob")
TEXT = MessageType.TEXT
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

#: Every value unlike its default, so that a value taken from the wrong setting shows.
STRICT = ChatPolicy(
    limits=Limits(max_id_length=16, max_participants=4, max_content_chars=5, max_title_chars=6),
    history_window=11,
    idempotency_window=12,
    max_replay=13,
    max_reaction_keys=1,
    typing_timeout_s=1.5,
    presence_grace_s=2.5,
)


def test_the_registry_makes_the_policy_from_the_settings_of_the_same_names() -> None:
    values = {
        f.name: getattr(STRICT, f.name) for f in attrs.fields(ChatPolicy) if f.name != "limits"
    }
    settings = make_settings(**values, **attrs.asdict(STRICT.limits))
    assert chat_policy(settings) == STRICT


def state_with(policy: ChatPolicy) -> ChatState:
    chat = Chat(ChatId("c1"), (ALICE, BOB, BOT_USER), T0)
    return ChatState.from_loaded(
        LoadedChat(chat, (), 0, {}, {}, {}), policy, new_message_id=counted_message_ids()
    )


def run(state: ChatState, command: AnyCommand) -> Outcome:
    outcome = state.apply(command, now=T0, clock=0.0)
    if outcome.error is not None:
        raise outcome.error
    state.commit(outcome)
    return outcome


def test_the_state_applies_the_limits_of_its_policy() -> None:
    state = state_with(STRICT)
    with pytest.raises(InvalidInput, match="5"):
        run(state, PostMessage(ALICE, TEXT, "123456"))
    message = run(state, PostMessage(ALICE, TEXT, "12345")).result
    assert isinstance(message, Message)
    run(state, React(BOB, message.id, "👍"))
    with pytest.raises(InvalidInput, match="at most 1 different reactions"):
        run(state, React(BOB, message.id, "🎉"))
    with pytest.raises(InvalidInput):
        run(state, SetTitle(ALICE, "1234567"))


def test_new_messages_take_their_ids_from_the_source_the_state_is_given() -> None:
    state = state_with(STRICT)
    assert run(state, PostMessage(ALICE, TEXT, "hi")).result.id == MessageId("new-1")
    changed = run(state, SetTitle(ALICE, "ours")).result
    assert isinstance(changed, ChatChanged)
    assert changed.message is not None
    assert changed.message.id == MessageId("new-2")  # the system message that records it


async def test_a_chat_actor_applies_the_registrys_policy_and_names_messages_with_uuids() -> None:
    async with running_registry(make_settings(max_reaction_keys=1)) as registry:
        chat = registry.chat((await registry.create_chat(["alice", "bob"])).id)
        first, second = [await chat.post(ALICE, TEXT, text) for text in ("a", "b")]
        assert first.id != second.id
        assert {uuid.UUID(first.id).version, uuid.UUID(second.id).version} == {4}
        await chat.react(BOB, first.id, "👍")
        with pytest.raises(InvalidInput, match="at most 1 different reactions"):
            await chat.react(BOB, first.id, "🎉")
