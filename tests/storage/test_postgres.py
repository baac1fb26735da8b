"""PgStore alone: migrations under concurrent start-ups, group commit, parallel reads, outages.

Policy: real PostgreSQL (``tests/pg_server.py``): the session's server with a fresh database
per test, or a server of the test's own when the test stops it. The real clock with
``trio.fail_after`` (psycopg runs in worker threads). Nothing peeks at psycopg internals.
"""

from __future__ import annotations

import psycopg
import pytest
import trio

from chatactors.settings import Settings, SettingsError
from chatactors.storage.pg_schema import MIGRATIONS, migrate
from chatactors.storage.postgres import open_postgres_store
from chatactors.storage.store import MessagePage, StoreUnavailable
from tests.conftest import make_settings, running_registry
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
                # A chat that cannot be loaded is the store's 503, not a crash of its actor.
                async with running_registry(make_settings(), store) as registry:
                    with pytest.raises(StoreUnavailable):
                        await registry.chat(chat.id).info()
                    assert registry.statistics().crashes == 0
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


def test_settings_take_store_and_database_url_from_the_environment() -> None:
    url = "postgresql://chat:s3cret@127.0.0.1:5432/chat"
    settings = Settings.from_env({"CHATACTORS_STORE": "postgres", "CHATACTORS_DATABASE_URL": url})
    assert (settings.store, settings.database_url) == ("postgres", url)
    # The password must not reach a log through the settings' repr.
    assert "s3cret" not in repr(settings)


def test_settings_refuse_postgres_without_a_database_url() -> None:
    with pytest.raises(SettingsError, match="database_url"):
        Settings.from_env({"CHATACTORS_STORE": "postgres"})
