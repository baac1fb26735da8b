"""What the SQL engines share: group commit across chats, and reads on several connections.

Policy: each test runs on a real SQLite file and on a fresh database of the session's real
PostgreSQL server (``engine_store``); the real clock with ``trio.fail_after``.
"""

from __future__ import annotations

import threading

import trio
import trio.testing

from chatactors.domain.ids import ChatId
from chatactors.storage.postgres import PgStore
from chatactors.storage.sqlite import SqliteStore
from chatactors.storage.store import MessagePage

from .factories import make_chat, make_message

TIMEOUT_S = 20


async def test_concurrent_appends_share_commits(engine_store: SqliteStore | PgStore) -> None:
    """Many chats appending at once (each in seq order, as its actor does) share transactions."""
    store = engine_store
    chats = [make_chat(f"c{i}", "alice", "bob") for i in range(20)]
    per_chat = 10
    messages = {chat.id: [make_message(chat, seq, "alice") for seq in range(1, per_chat + 1)]
                for chat in chats}  # fmt: skip

    async def post_all(chat_id: ChatId) -> None:
        for message in messages[chat_id]:
            await store.append_message(message, owner=0)

    with trio.fail_after(TIMEOUT_S):
        for chat in chats:
            await store.create_chat(chat)
        before = store.statistics()
        async with trio.open_nursery() as nursery:
            for chat in chats:
                nursery.start_soon(post_all, chat.id)
        after = store.statistics()
        batches = after.batches_committed - before.batches_committed
        writes = after.writes_committed - before.writes_committed
        stored = {chat.id: await store.read_messages(chat.id, MessagePage(limit=100))
                  for chat in chats}  # fmt: skip
    assert writes == len(chats) * per_chat
    assert batches < writes
    assert stored == messages


async def test_a_slow_read_does_not_hold_up_other_reads(
    engine_store: SqliteStore | PgStore,
) -> None:
    """Several readers: a read stuck in its thread (a long replay, say) leaves the others free."""
    chat = make_chat("c1", "alice", "bob")
    release = threading.Event()

    def stuck(conn: object) -> bool:
        return release.wait(TIMEOUT_S)

    with trio.fail_after(TIMEOUT_S):
        await engine_store.create_chat(chat)
        async with trio.open_nursery() as nursery:
            stuck_result: list[bool] = []

            async def read_stuck() -> None:
                stuck_result.append(await engine_store._read(stuck))

            nursery.start_soon(read_stuck)
            await trio.testing.wait_all_tasks_blocked()
            loaded = await engine_store.load_chat(chat.id, window=10, idempotency_window=10)
            chats = await engine_store.list_chats(limit=10)
            still_stuck = not stuck_result
            release.set()
    assert still_stuck
    assert loaded is not None
    assert chats == [chat]
    assert stuck_result == [True]
