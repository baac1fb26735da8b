"""PgStore alone: migrations under concurrent start-ups, group commit, parallel reads, outages.

Policy: real PostgreSQL (``tests/pg_server.py``): the session's server with a fresh database
per test, or a server of the test's own when the test stops it. The real clock with
``trio.fail_after`` (psycopg runs in worker threads). Nothing peeks at psycopg internals.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
import trio

from chatactors.domain.ids import ChatId
from chatactors.storage.pg_schema import MIGRATIONS, migrate
from chatactors.storage.postgres import Conn, PgStore, open_postgres_store
from chatactors.storage.sqlite import SqliteStore, open_sqlite_store
from chatactors.storage.store import MessagePage, StoreUnavailable
from tests.pg_server import remove_pg_server, start_pg_server

from .factories import make_chat, make_message

TIMEOUT_S = 30


def _schema_versions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [int(v) for (v,) in conn.execute("SELECT version FROM chatactors_schema")]


async def test_concurrent_start_ups_apply_each_migration_once(database_url: str) -> None:
    """Several processes starting at once: the advisory lock lets one migrate, the rest see it."""
    results: list[int] = []

    def start_up() -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            results.append(migrate(conn))

    with trio.fail_after(TIMEOUT_S):
        async with trio.open_nursery() as nursery:
            for _ in range(6):
                nursery.start_soon(trio.to_thread.run_sync, start_up)
    assert results == [len(MIGRATIONS)] * 6
    assert _schema_versions(database_url) == [len(MIGRATIONS)]


async def test_database_with_a_newer_schema_is_refused(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        migrate(conn)
        conn.execute("UPDATE chatactors_schema SET version = %s", (len(MIGRATIONS) + 1,))
    with trio.fail_after(TIMEOUT_S), pytest.raises(RuntimeError, match="newer than this server"):
        async with open_postgres_store(database_url):
            pass  # pragma: no cover
    assert _schema_versions(database_url) == [len(MIGRATIONS) + 1]


async def test_concurrent_appends_share_commits(database_url: str) -> None:
    chats = [make_chat(f"c{i}", "alice", "bob") for i in range(20)]
    messages = {c.id: [make_message(c, seq, "alice") for seq in range(1, 11)] for c in chats}

    async def post_all(store: PgStore, chat_id: ChatId) -> None:
        for message in messages[chat_id]:
            await store.append_message(message, owner=0)

    with trio.fail_after(TIMEOUT_S):
        async with open_postgres_store(database_url) as store:
            for chat in chats:
                await store.create_chat(chat)
            batches_before, writes_before = store.batches_committed, store.writes_committed
            async with trio.open_nursery() as nursery:
                for chat in chats:
                    nursery.start_soon(post_all, store, chat.id)
            batches = store.batches_committed - batches_before
            writes = store.writes_committed - writes_before
            stored = {c.id: await store.read_messages(c.id, MessagePage(limit=100)) for c in chats}
    assert writes == 200
    assert batches < writes
    assert stored == messages


@pytest.fixture(name="engine_store", params=["sqlite", "postgres"])
async def _engine_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[SqliteStore | PgStore]:
    if request.param == "postgres":
        async with open_postgres_store(request.getfixturevalue("database_url")) as pg_store:
            yield pg_store
        return
    async with open_sqlite_store(tmp_path) as store:
        yield store


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
                stuck_result.append(await engine_store._read(stuck))  # type: ignore[arg-type]

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


def _select_one(conn: Conn) -> object:
    return conn.execute("SELECT 1").fetchone()


async def test_postgres_down_raises_store_unavailable_and_the_store_recovers() -> None:
    server = await trio.to_thread.run_sync(start_pg_server)
    chat = make_chat("c1", "alice", "bob")
    kept = make_message(chat, 1, "alice")
    after = make_message(chat, 2, "bob")
    try:
        url = await trio.to_thread.run_sync(server.create_database)
        with trio.fail_after(TIMEOUT_S * 2):
            async with open_postgres_store(url) as store:
                await store.create_chat(chat)
                await store.append_message(kept, owner=0)
                await trio.to_thread.run_sync(server.stop)
                with pytest.raises(StoreUnavailable):
                    await store.append_message(after, owner=0)
                with pytest.raises(StoreUnavailable):
                    await store.read_messages(chat.id, MessagePage(limit=10))
                with pytest.raises(StoreUnavailable):
                    await store.check_ready()
                await trio.to_thread.run_sync(server.start)
                # No sleep: each failed try waits for the pool's acquire timeout by itself.
                while True:
                    try:
                        await store.append_message(after, owner=0)
                        break
                    except StoreUnavailable:
                        continue
                stored = await store.read_messages(chat.id, MessagePage(limit=10))
    finally:
        await trio.to_thread.run_sync(remove_pg_server, server)
    assert stored == [kept, after]
