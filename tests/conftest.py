"""Testing policy.

- Everything that waits uses Trio's mock clock (``autojump_clock``), so bot delays, typing
  timeouts and idle timeouts cost no real time. SQLite's worker threads make the autojump clock
  jump while a thread runs, so tests over SQLite use the real clock with ``trio.fail_after``.
- Real parts: real Hypercorn on 127.0.0.1 port 0 for end-to-end tests, a real SQLite file in
  ``tmp_path``, Debian's Chromium for browser tests. Only loopback traffic, ever.
- One way for each kind of server, all in ``tests/harness/`` (its ``__init__`` says which to use
  when): Quart-Trio's test app in memory (no socket; ``asgi_socket`` for WebSockets);
  ``served_app``, the production app through ``chatactors.serve.serve_app`` on a real socket in
  this process (tests may reach its services); ``server_process``, ``chatactors serve`` as a
  child process (with or async with) for what needs a real process: signals, restarts, crashes,
  browsers. No test starts a server otherwise.
- mypy checks ``tests/`` as strictly as ``chatactors/``.
- No ``sleep()`` to synchronise: events, ``nursery.start``, ``wait_all_tasks_blocked``; a state
  nothing signals is polled with ``tests.harness.waiting.wait_until`` (or ``wait_until_async``)
  within a generous bound.
- Every test asserts something that could fail; speed is measured in ``benchmarks/``, never here.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chatactors.actors.bot import open_bot
from chatactors.actors.bot_replies import default_bot_replies
from chatactors.actors.chat_policy import ChatPolicy
from chatactors.actors.registry import ChatRegistry, chat_policy, open_registry
from chatactors.domain.ids import ChatId, MessageId, MessageIdSource
from chatactors.settings import Settings
from chatactors.storage.memory import MemoryStore
from chatactors.storage.store import ChatStore
from tests.pg_server import database_url_fixture, pg_server_fixture

__all__ = ["database_url_fixture", "pg_server_fixture"]


def make_settings(**overrides: Any) -> Settings:
    """Settings for tests: memory store, the bot off unless asked for, quick limits."""
    defaults: dict[str, Any] = {"store": "memory", "bot_enabled": False, "port": 8000}
    defaults.update(overrides)
    return Settings(**defaults)


def make_chat_policy(**overrides: Any) -> ChatPolicy:
    """A chat state's policy as the registry makes it, from ``make_settings(**overrides)``."""
    return chat_policy(make_settings(**overrides))


def counted_message_ids(prefix: str = "new") -> MessageIdSource:
    """Message ids ``new-1``, ``new-2``, ...: a chat state's ids, known in advance."""
    numbers = itertools.count(1)
    return lambda: MessageId(f"{prefix}-{next(numbers)}")


class FakeWallClock:
    """A wall clock that moves only when told to."""

    def __init__(self) -> None:
        self.moment = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@asynccontextmanager
async def running_registry(
    settings: Settings,
    store: ChatStore | None = None,
    *,
    seed: int = 7,
    now: Callable[[], datetime] | None = None,
) -> AsyncIterator[ChatRegistry]:
    async with open_registry(
        store or MemoryStore(), settings, now=now or FakeWallClock()
    ) as registry:
        if not settings.bot_enabled:
            yield registry
            return
        async with open_bot(
            registry,
            default_bot_replies({}),
            delay_min_s=settings.bot_delay_min_s,
            delay_max_s=settings.bot_delay_max_s,
            random_for=lambda chat_id: random.Random(f"{seed}:{chat_id}"),
        ) as bot:
            registry.on_activation(bot.activated)
            yield registry


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
async def registry(settings: Settings) -> AsyncIterator[ChatRegistry]:
    async with running_registry(settings) as registry:
        yield registry
    # Supervision must not have been needed in an ordinary test.
    assert registry.statistics().crashes == 0


@pytest.fixture
def new_chat(registry: ChatRegistry) -> Callable[..., Any]:
    async def create(*participants: str) -> ChatId:
        chat = await registry.create_chat(list(participants or ("alice", "bob")))
        return chat.id

    return create
