"""PgStore alone: migrations under concurrent start-ups, group commit, parallel reads, outages.

Policy: real PostgreSQL (``tests/pg_server.py``): the session's server with a fresh database
per test, or a server of the test's own when the test stops it. The real clock with
``trio.fail_after`` (psycopg runs in worker threads). Nothing peeks at psycopg internals.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
import trio

from chatactors.domain.errors import OutcomeUnknown
from chatactors.settings import SettingsError
from chatactors.settings_parsing import read_settings
from chatactors.storage.pg_schema import MIGRATIONS, migrate
from chatactors.storage.postgres import open_postgres_store
from chatactors.storage.store import MessagePage, StoreNotAnswering, StoreUnavailable
from tests.conftest import make_settings, running_registry
from tests.pg_server import remove_pg_server, start_pg_server
from tests.storage.stuck_threads import wait_for_stuck_threads

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


#: Short, so that the test is; PostgreSQL's own lock_timeout is half of it.
HUNG_TIMEOUT_S = 4.0
#: A call answers within its timeout plus this, or the test fails ("never a hang").
MARGIN_S = 3.0


def _lock_the_chat_row(url: str, chat_id: str) -> psycopg.Connection[tuple[Any, ...]]:
    """A session that holds the chat's row locked (in its open transaction) until closed."""
    locker = psycopg.connect(url)
    locker.execute("SELECT 1 FROM chats WHERE id = %s FOR UPDATE", (chat_id,))
    return locker


def _wait_for_a_lock_wait(url: str) -> None:
    """Until a session of this database waits for a lock (each try is a query: no sleep)."""
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ).fetchone()
            if row is not None and row[0]:
                return


async def test_a_hung_postgres_costs_each_call_its_timeout_and_says_what_may_have_happened() -> (
    None
):
    """SIGSTOP (hung, not down): a commit in flight has an unknown outcome, new writes and the
    readiness check are refused at once, a read gives up within the timeout; after SIGCONT the
    store serves again by itself."""
    server = await trio.to_thread.run_sync(start_pg_server)
    chat = make_chat("c1", "alice", "bob")
    unconfirmed = make_message(chat, 2, "bob", client_message_id="k2")
    try:
        url = await trio.to_thread.run_sync(server.create_database)
        with trio.fail_after(TIMEOUT_S * 2):
            async with open_postgres_store(url, timeout_s=HUNG_TIMEOUT_S) as store:
                await store.create_chat(chat)
                await store.append_message(make_message(chat, 1, "alice"), owner=0)
                # The chat's row locked elsewhere holds the next commit in flight, surely sent.
                locker = await trio.to_thread.run_sync(_lock_the_chat_row, url, chat.id)
                outcome: list[BaseException] = []
                answered = trio.Event()

                async def append() -> None:
                    try:
                        await store.append_message(unconfirmed, owner=0)
                    except (OutcomeUnknown, StoreUnavailable) as error:
                        outcome.append(error)
                    answered.set()

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(append)
                    await trio.to_thread.run_sync(_wait_for_a_lock_wait, url)
                    with server.paused():
                        with trio.fail_after(HUNG_TIMEOUT_S + MARGIN_S):
                            await answered.wait()
                        assert [type(error) for error in outcome] == [OutcomeUnknown]
                        # The writer still waits for that commit: nothing more goes out.
                        with trio.fail_after(MARGIN_S), pytest.raises(StoreNotAnswering):
                            await store.append_message(make_message(chat, 3, "bob"), owner=0)
                        with trio.fail_after(MARGIN_S), pytest.raises(StoreNotAnswering):
                            await store.check_ready()
                        with (
                            trio.fail_after(HUNG_TIMEOUT_S + MARGIN_S),
                            pytest.raises(StoreNotAnswering),
                        ):
                            await store.read_messages(chat.id, MessagePage(limit=10))
                await trio.to_thread.run_sync(locker.close)
                await wait_for_stuck_threads(store._writer._calls)
                await wait_for_stuck_threads(store._reads)
                await store.check_ready()
                # Whatever became of the unconfirmed write, a new load sees it and goes on.
                loaded = await store.load_chat(chat.id, window=10, idempotency_window=10)
                assert loaded is not None
                after = make_message(chat, loaded.last_seq + 1, "alice")
                await store.append_message(after, owner=loaded.owner_token)
                stored = await store.read_messages(chat.id, MessagePage(limit=10))
    finally:
        await trio.to_thread.run_sync(remove_pg_server, server)
    assert [m.seq for m in stored] == list(range(1, len(stored) + 1))
    assert [m.id for m in stored if m.client_message_id == "k2"] in ([], [unconfirmed.id])


async def test_a_slow_server_rolls_back_on_its_own_timeout_and_that_is_a_503(
    database_url: str,
) -> None:
    """A lock held elsewhere past PostgreSQL's lock_timeout (half the store's timeout): the
    server answers with an error, so the write surely did not happen (503, not 504), and the
    store was never stuck."""
    chat = make_chat("c1", "alice", "bob")
    refused = make_message(chat, 1, "alice")
    with trio.fail_after(TIMEOUT_S):
        async with open_postgres_store(database_url, timeout_s=HUNG_TIMEOUT_S) as store:
            await store.create_chat(chat)
            locker = await trio.to_thread.run_sync(_lock_the_chat_row, database_url, chat.id)
            try:
                with pytest.raises(StoreUnavailable) as error:
                    await store.append_message(refused, owner=0)
            finally:
                await trio.to_thread.run_sync(locker.close)
            assert not isinstance(error.value, StoreNotAnswering)
            assert isinstance(error.value.__cause__, psycopg.errors.LockNotAvailable)
            await store.check_ready()
            assert await store.read_messages(chat.id, MessagePage(limit=10)) == []


def test_settings_take_store_and_database_url_from_the_environment() -> None:
    url = "postgresql://chat:s3cret@127.0.0.1:5432/chat"
    environ = {"CHATACTORS_STORE": "postgres", "CHATACTORS_DATABASE_URL": url}
    settings = read_settings(environ=environ)
    assert (settings.store, settings.database_url) == ("postgres", url)
    # The password must not reach a log through the settings' repr.
    assert "s3cret" not in repr(settings)


def test_settings_refuse_postgres_without_a_database_url() -> None:
    with pytest.raises(SettingsError, match="database_url"):
        read_settings(environ={"CHATACTORS_STORE": "postgres"})
