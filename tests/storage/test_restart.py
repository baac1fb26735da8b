"""A registry over SQLite, closed and opened again on the same file: nothing acknowledged is lost.

Policy: the registry and the store are the real ones over a file in ``tmp_path``; "restart" is
closing both and opening both again. The real clock with ``trio.fail_after`` (SQLite runs in
worker threads), the bot off, wall-clock timestamps from the real ``utc_now``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from chatactors.actors.registry import ChatRegistry, open_registry
from chatactors.domain.ids import UserId
from chatactors.domain.models import MessageType, PresenceStatus, ReadMark
from chatactors.settings import Settings
from chatactors.storage.sqlite import open_sqlite_store
from chatactors.storage.store import MessagePage

TIMEOUT_S = 20
ALICE, BOB = UserId("alice"), UserId("bob")


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(store="sqlite", data_dir=tmp_path, bot_enabled=False, **overrides)


@asynccontextmanager
async def _serving(settings: Settings) -> AsyncIterator[ChatRegistry]:
    """One server lifetime: the store, then the registry over it; closed in reverse order."""
    async with (
        open_sqlite_store(settings.data_dir) as store,
        open_registry(store, settings) as registry,
    ):
        yield registry


async def test_chats_messages_marks_and_last_seen_survive_a_restart(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with trio.fail_after(TIMEOUT_S):
        async with _serving(settings) as registry:
            chat = await registry.create_chat(["alice", "bob"])
            handle = registry.chat(chat.id)
            posted = [
                await handle.post(ALICE if i % 2 else BOB, MessageType.TEXT, f"hello {i}")
                for i in range(1, 8)
            ]
            bob_mark = await handle.mark_read(BOB)
            await handle.set_presence(ALICE, PresenceStatus.ONLINE)
            gone = await handle.set_presence(ALICE, PresenceStatus.OFFLINE)
            before = await handle.presence()
        async with _serving(settings) as registry:
            handle = registry.chat(chat.id)
            chats = await registry.list_chats()
            messages = await handle.messages(MessagePage(limit=100))
            marks = await handle.read_marks()
            after = await handle.presence()
            info = await handle.info()
    assert chats == [chat]
    assert messages == posted
    assert [m.seq for m in messages] == list(range(1, 8))
    assert info.last_seq == 7
    assert bob_mark == ReadMark(BOB, posted[-1].id, 7)
    assert ReadMark(BOB, posted[-1].id, 7) in marks
    assert ReadMark(ALICE, None, 0) in marks
    assert after == before
    alice_after = next(p for p in after if p.user_id == ALICE)
    assert alice_after.status is PresenceStatus.OFFLINE
    assert alice_after.last_seen == gone.last_seen


async def test_presence_after_a_restart_is_offline_with_last_seen_kept(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with trio.fail_after(TIMEOUT_S):
        async with _serving(settings) as registry:
            chat = await registry.create_chat(["alice", "bob"])
            handle = registry.chat(chat.id)
            await handle.set_presence(ALICE, PresenceStatus.ONLINE)
            await handle.set_presence(BOB, PresenceStatus.TYPING)
            offline = await handle.set_presence(ALICE, PresenceStatus.OFFLINE)
            await handle.set_presence(ALICE, PresenceStatus.ONLINE)
            # The process dies with alice online and bob typing: nobody is online afterwards.
        async with _serving(settings) as registry:
            after = {p.user_id: p for p in await registry.chat(chat.id).presence()}
    assert {user: p.status for user, p in after.items()} == {
        ALICE: PresenceStatus.OFFLINE,
        BOB: PresenceStatus.OFFLINE,
        UserId("bot_user"): PresenceStatus.OFFLINE,
    }
    assert after[ALICE].last_seen == offline.last_seen
    # Never seen offline: last_seen falls back to the chat's creation.
    assert after[BOB].last_seen == chat.created_at


async def test_client_message_id_retry_after_a_restart_returns_the_original(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)
    with trio.fail_after(TIMEOUT_S):
        async with _serving(settings) as registry:
            chat = await registry.create_chat(["alice", "bob"])
            original = await registry.chat(chat.id).post(ALICE, MessageType.TEXT, "once", "c-1")
        async with _serving(settings) as registry:
            handle = registry.chat(chat.id)
            retried = await handle.post(ALICE, MessageType.TEXT, "once", "c-1")
            # The same client id from another user is a different message.
            other = await handle.post(BOB, MessageType.TEXT, "mine", "c-1")
            messages = await handle.messages(MessagePage(limit=10))
    assert retried == original
    assert other.seq == 2
    assert messages == [original, other]


async def test_idempotency_reaches_past_the_history_window_after_a_restart(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path, history_window=3, idempotency_window=50)
    with trio.fail_after(TIMEOUT_S):
        async with _serving(settings) as registry:
            chat = await registry.create_chat(["alice", "bob"])
            handle = registry.chat(chat.id)
            first = await handle.post(ALICE, MessageType.TEXT, "first", "early")
            for i in range(10):
                await handle.post(BOB, MessageType.TEXT, f"filler {i}")
        async with _serving(settings) as registry:
            handle = registry.chat(chat.id)
            retried = await handle.post(ALICE, MessageType.TEXT, "first", "early")
            info = await handle.info()
    assert retried == first
    assert info.last_seq == 11


async def test_seq_continues_and_old_pages_come_from_the_file_after_a_restart(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path, history_window=4)
    with trio.fail_after(TIMEOUT_S):
        async with _serving(settings) as registry:
            chat = await registry.create_chat(["alice", "bob"])
            handle = registry.chat(chat.id)
            posted = [await handle.post(ALICE, MessageType.TEXT, f"m{i}") for i in range(12)]
        async with _serving(settings) as registry:
            handle = registry.chat(chat.id)
            old_page = await handle.messages(MessagePage(limit=3, before_seq=4))
            forward = await handle.messages(MessagePage(limit=5, after_seq=2))
            newest = await handle.post(BOB, MessageType.TEXT, "after restart")
    assert old_page == posted[:3]
    assert forward == posted[2:7]
    assert newest.seq == 13
    assert newest.timestamp >= posted[-1].timestamp


async def test_user_chat_list_and_unread_counts_survive_a_restart(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with trio.fail_after(TIMEOUT_S):
        async with _serving(settings) as registry:
            quiet = await registry.create_chat(["alice", "carol"])
            busy = await registry.create_chat(["alice", "bob"])
            handle = registry.chat(busy.id)
            await handle.post(BOB, MessageType.TEXT, "one")
            await handle.mark_read(ALICE)
            await handle.post(BOB, MessageType.TEXT, "two")
            last = await handle.post(BOB, MessageType.TEXT, "three")
            before = await registry.list_user_chats(ALICE)
        async with _serving(settings) as registry:
            after = await registry.list_user_chats(ALICE)
    assert after == before
    assert [(s.chat.id, s.unread_count) for s in after] == [(busy.id, 2), (quiet.id, 0)]
    assert after[0].last_message == last
