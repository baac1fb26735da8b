"""The bot under the mock clock and a seeded RNG: its sequence, its timing, bursts, itself."""

from __future__ import annotations

import itertools
import random

import pytest
import trio
import trio.testing

from chatactors.actors.bot_replies import default_bot_replies
from chatactors.actors.subscription import Subscription
from chatactors.domain.events import MessageReceived
from chatactors.domain.ids import BOT_USER, UserId
from chatactors.domain.models import MessageType, Reaction
from chatactors.settings import Settings
from tests.actors.events import drain, summary
from tests.conftest import make_settings, running_registry

ALICE = UserId("alice")
TEXT = MessageType.TEXT
SEED = 11


def bot_settings(low: float = 2.0, high: float = 4.0) -> Settings:
    return make_settings(bot_enabled=True, bot_delay_min_s=low, bot_delay_max_s=high)


async def record_until_bot_offline(
    subscription: Subscription, start: float
) -> list[tuple[float, tuple[str, str, str]]]:
    timeline = []
    while True:
        event = (await subscription.receive()).event
        timeline.append((trio.current_time() - start, summary(event)))
        if summary(event) == ("presence", "bot_user", "offline"):
            return timeline


async def test_bot_runs_the_reference_sequence_with_its_delays(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with running_registry(bot_settings(), seed=SEED) as registry:
        chat_id = (await registry.create_chat(["alice"])).id
        chat = registry.chat(chat_id)
        watcher = await chat.subscribe()
        start = trio.current_time()
        await chat.post(ALICE, TEXT, "hello bot")
        timeline = await record_until_bot_offline(watcher, start)

    # Replay the bot's random draws in the order it makes them.
    rng = random.Random(f"{SEED}:{chat_id}")
    replies = default_bot_replies({})
    at = rng.uniform(2, 4)
    expected = [(0.0, ("message", "alice", "text")), (at, ("presence", "bot_user", "online"))]
    at += rng.uniform(2, 4)
    expected.append((at, ("read", "bot_user", "1")))
    at += rng.uniform(2, 4)
    expected.append((at, ("presence", "bot_user", "typing")))
    for index in range(rng.randint(1, 3)):
        if index:
            at += rng.uniform(2, 4)
        expected.append((at, ("message", "bot_user", rng.choice(replies).type.value)))
    at += rng.uniform(2, 4)
    expected.append((at, ("presence", "bot_user", "offline")))

    assert [event for _, event in timeline] == [event for _, event in expected]
    assert [t for t, _ in timeline] == pytest.approx([t for t, _ in expected], abs=1e-6)
    # A pause of 2-4 s before every step, the first included, except the first reply: it
    # comes as soon as typing shows (REFERENCE.md), 6-12 s after the message.
    steps = [event for _, event in timeline]
    first_reply = steps.index(("message", "bot_user", expected[4][1][2]), 1)
    assert steps[first_reply - 1] == ("presence", "bot_user", "typing")
    assert timeline[first_reply][0] == timeline[first_reply - 1][0]
    assert 6 <= timeline[first_reply][0] <= 12
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(timeline)]
    del gaps[first_reply - 1]
    assert all(2 <= gap <= 4 for gap in gaps)


async def test_nothing_from_the_bot_before_its_first_delay(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with running_registry(bot_settings(), seed=SEED) as registry:
        chat = registry.chat((await registry.create_chat(["alice"])).id)
        watcher = await chat.subscribe()
        await chat.post(ALICE, TEXT, "hello")
        await trio.sleep(1.999)
        assert [summary(e) for e in drain(watcher)] == [("message", "alice", "text")]
        await trio.sleep(60)
        assert ("presence", "bot_user", "offline") in [summary(e) for e in drain(watcher)]


async def test_a_burst_is_answered_by_one_sequence(autojump_clock: trio.testing.MockClock) -> None:
    async with running_registry(bot_settings(), seed=SEED) as registry:
        chat = registry.chat((await registry.create_chat(["alice", "bob"])).id)
        watcher = await chat.subscribe()
        for i in range(5):
            await chat.post(ALICE, TEXT, f"burst {i}")
            await trio.sleep(0.1)
        await trio.sleep(60)
        events = [summary(e) for e in drain(watcher)]
        assert events.count(("presence", "bot_user", "typing")) == 1
        assert events.count(("read", "bot_user", "5")) == 1
        assert events.count(("presence", "bot_user", "online")) == 1


async def test_a_message_after_the_bot_read_starts_one_more_sequence(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with running_registry(bot_settings(), seed=SEED) as registry:
        chat = registry.chat((await registry.create_chat(["alice"])).id)
        watcher = await chat.subscribe()
        await chat.post(ALICE, TEXT, "first")
        await trio.sleep(8.5)  # past the bot's read step (two pauses of 2-4 s)
        await chat.post(ALICE, TEXT, "second")
        await trio.sleep(120)
        events = [summary(e) for e in drain(watcher)]
        bot_reads = [e for e in events if e[0] == "read" and e[1] == "bot_user"]
        assert len(bot_reads) == 2
        assert events.count(("presence", "bot_user", "typing")) == 2
        assert events[-1] == ("presence", "bot_user", "offline")


async def test_the_bot_never_answers_itself(autojump_clock: trio.testing.MockClock) -> None:
    async with running_registry(bot_settings(), seed=SEED) as registry:
        chat = registry.chat((await registry.create_chat(["alice"])).id)
        watcher = await chat.subscribe()
        await chat.post(BOT_USER, TEXT, "talking to myself")
        await trio.sleep(120)
        assert [summary(e) for e in drain(watcher)] == [("message", "bot_user", "text")]


async def test_zero_delays_answer_at_once(autojump_clock: trio.testing.MockClock) -> None:
    async with running_registry(bot_settings(0, 0), seed=SEED) as registry:
        chat = registry.chat((await registry.create_chat(["alice"])).id)
        watcher = await chat.subscribe()
        start = trio.current_time()
        await chat.post(ALICE, TEXT, "quick")
        timeline = await record_until_bot_offline(watcher, start)
        assert timeline[-1][0] == 0


async def test_bot_does_not_keep_a_chat_alive_and_finishes_across_an_idle_stop(
    autojump_clock: trio.testing.MockClock,
) -> None:
    settings = make_settings(
        bot_enabled=True, bot_delay_min_s=50, bot_delay_max_s=50, idle_timeout_s=10
    )
    async with running_registry(settings) as registry:
        # The post is the chat's first command: the bot's subscription must already see it.
        chat = registry.chat((await registry.create_chat(["alice"])).id)
        await chat.post(ALICE, TEXT, "slow bot")
        await trio.sleep(30)
        # The bot's passive subscription neither keeps the chat alive nor counts as a subscriber.
        assert registry.statistics().active_actors == 0
        await trio.sleep(400)
        assert registry.statistics().active_actors == 0
        info = await chat.info()
        assert info.last_seq >= 2  # the bot answered through a reactivated chat
        marks = {m.user_id: m.seq for m in await chat.read_marks()}
        assert marks[BOT_USER] == 1
        bot = {p.user_id: p for p in await chat.presence()}[BOT_USER]
        assert bot.status.value == "offline"


async def test_bot_presence_never_counts_its_subscription(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with running_registry(bot_settings(), seed=SEED) as registry:
        chat = registry.chat((await registry.create_chat(["alice"])).id)
        await chat.info()
        assert registry.statistics().subscribers == 0
        statuses = {p.user_id: p.status.value for p in await chat.presence()}
        assert statuses == {"alice": "offline", "bot_user": "offline"}


async def test_a_reply_to_the_bot_is_answered_and_a_reaction_to_it_starts_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with running_registry(bot_settings(), seed=SEED) as registry:
        chat = registry.chat((await registry.create_chat(["alice"])).id)
        watcher = await chat.subscribe()
        await chat.post(ALICE, TEXT, "hello bot")
        await trio.sleep(60)
        bot_message = [e.message for e in drain(watcher) if isinstance(e, MessageReceived)][-1]
        assert bot_message.user_id == BOT_USER
        # A reaction to the bot's message: a change, not a message; the bot stays quiet.
        reacted = await chat.react(ALICE, bot_message.id, "👍")
        assert reacted.reactions == (Reaction("👍", (ALICE,)),)
        await trio.sleep(60)
        assert [summary(e) for e in drain(watcher)] == [("updated", "bot_user", "reaction_added")]
        # A reply to the bot's message is a message: answered like any other.
        await chat.post(ALICE, TEXT, "about that", reply_to=bot_message.id)
        await trio.sleep(60)
        events = [summary(e) for e in drain(watcher)]
        assert events[0] == ("message", "alice", "text")
        assert ("presence", "bot_user", "typing") in events
        assert events[-1] == ("presence", "bot_user", "offline")
