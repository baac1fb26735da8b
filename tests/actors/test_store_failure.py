"""A store that cannot write (a full disk) fails only the request: the actor, its state and its
subscribers live on, and the chat works again once space is back. A store that stops answering
(a commit held inside its transaction, a write lock another process keeps) costs a request the
store's timeout: 504 if the write went out, 503 if not, and the chat reloads what was stored.

Policy: a real SQLite file in ``tmp_path`` made full with ``PRAGMA max_page_count``; the real
clock with ``trio.fail_after`` (SQLite runs in worker threads).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
import trio

from chatactors.domain.errors import OutcomeUnknown, StoreUnavailable
from chatactors.domain.ids import UserId
from chatactors.domain.models import MessageType
from chatactors.storage.sqlite import SqliteStore, _may_have_committed, open_sqlite_store
from chatactors.storage.store import MessagePage, StoreNotAnswering
from tests.actors.events import drain, seqs
from tests.actors.full_disk import BIG, fill_up, free_up
from tests.conftest import make_settings, running_registry
from tests.storage.stuck_threads import GUARD_S, wait_for_stuck_threads

ALICE = UserId("alice")
TEXT = MessageType.TEXT
TIMEOUT_S = 20


async def test_a_failed_write_fails_its_request_and_changes_nothing(tmp_path: Path) -> None:
    settings = make_settings(store="sqlite", data_dir=tmp_path)
    with trio.fail_after(TIMEOUT_S):
        async with (
            open_sqlite_store(tmp_path) as store,
            running_registry(settings, store) as registry,
        ):
            chat = registry.chat((await registry.create_chat(["alice", "bob"])).id)
            watcher = await chat.subscribe(ALICE)
            await chat.post(ALICE, TEXT, "before")
            drain(watcher)
            await fill_up(store)

            with pytest.raises(StoreUnavailable):
                await chat.post(ALICE, TEXT, BIG, client_message_id="k")
            with pytest.raises(StoreUnavailable):
                await store.check_ready()  # not ready while writes fail
            # Nothing acknowledged, nothing published, the state as it was, nobody dropped.
            assert drain(watcher) == []
            assert (await chat.info()).last_seq == 1
            assert watcher.end_reason is None
            assert registry.statistics().crashes == 0

            await free_up(store)
            await store.check_ready()  # the probe write succeeds: ready again
            assert store.write_failure is None
            again = await chat.post(ALICE, TEXT, BIG, client_message_id="k")
            assert again.seq == 2  # the failed post took no seq and left no idempotency key
            assert seqs(drain(watcher)) == [2]
            stored = await store.read_messages(chat.chat_id, MessagePage(limit=10))
            assert [m.content for m in stored] == ["before", BIG]
        assert registry.statistics().crashes == 0


HANG_TIMEOUT_S = 0.5


async def _hang_message_inserts(store: SqliteStore, release: threading.Event) -> None:
    """From now on, inserting a message waits for ``release`` inside the commit's transaction,
    after the write went out (a stalled disk, as far as the store can tell)."""

    def install() -> None:
        conn = store._write_conn
        conn.create_function("hang", 0, lambda: release.wait(GUARD_S))
        conn.execute(
            "CREATE TEMP TRIGGER hang_inserts AFTER INSERT ON main.messages"
            " BEGIN SELECT hang(); END"
        )

    await store._writer.run_exclusive(install)


async def test_an_unconfirmed_commit_is_504_and_the_chat_reloads_what_was_stored(
    tmp_path: Path,
) -> None:
    settings = make_settings(store="sqlite", data_dir=tmp_path)
    release = threading.Event()
    with trio.fail_after(TIMEOUT_S):
        async with (
            open_sqlite_store(tmp_path, timeout_s=HANG_TIMEOUT_S) as store,
            running_registry(settings, store) as registry,
        ):
            chat = registry.chat((await registry.create_chat(["alice", "bob"])).id)
            await chat.post(ALICE, TEXT, "one", client_message_id="k1")
            await _hang_message_inserts(store, release)
            try:
                with pytest.raises(OutcomeUnknown, match="retry with the same client_message_id"):
                    await chat.post(ALICE, TEXT, "two", client_message_id="k2")
                # While that commit still runs: not ready, and nothing else is sent.
                with pytest.raises(StoreNotAnswering):
                    await store.check_ready()
                with pytest.raises(StoreUnavailable):
                    await chat.post(ALICE, TEXT, "three", client_message_id="k3")
            finally:
                release.set()
            await wait_for_stuck_threads(store._writer._calls)
            await store._writer.run_exclusive(
                lambda: store._write_conn.execute("DROP TRIGGER temp.hang_inserts")
            )
            await store.check_ready()

            # The unconfirmed message landed: the reloaded chat returns it to the retry.
            retried = await chat.post(ALICE, TEXT, "two", client_message_id="k2")
            three = await chat.post(ALICE, TEXT, "three", client_message_id="k3")
            assert (retried.seq, three.seq) == (2, 3)
            stored = await store.read_messages(chat.chat_id, MessagePage(limit=10))
            assert [(m.seq, m.content) for m in stored] == [(1, "one"), (2, "two"), (3, "three")]
            assert stored[1] == retried
            stats = registry.statistics()
            assert (stats.reloads, stats.crashes) == (1, 0)


async def test_a_commit_that_waits_for_the_write_lock_past_the_timeout_never_goes_out(
    tmp_path: Path,
) -> None:
    """Another process holds the database's write lock: 503, and the write, given up on before
    it went out, is not made when the lock comes free."""
    settings = make_settings(store="sqlite", data_dir=tmp_path)
    with trio.fail_after(TIMEOUT_S):
        async with (
            open_sqlite_store(tmp_path, timeout_s=HANG_TIMEOUT_S) as store,
            running_registry(settings, store) as registry,
        ):
            chat = registry.chat((await registry.create_chat(["alice", "bob"])).id)
            await chat.post(ALICE, TEXT, "one")
            other = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
            try:
                other.execute("BEGIN IMMEDIATE")
                with pytest.raises(StoreNotAnswering):
                    await chat.post(ALICE, TEXT, "two", client_message_id="k2")
            finally:
                other.execute("ROLLBACK")
                other.close()
            await wait_for_stuck_threads(store._writer._calls)
            stored = await store.read_messages(chat.chat_id, MessagePage(limit=10))
            assert [m.content for m in stored] == ["one"]
            assert (await chat.post(ALICE, TEXT, "two", client_message_id="k2")).seq == 2
            assert registry.statistics().reloads == 0


@pytest.mark.parametrize(
    ("error_name", "may_have_committed"),
    [("SQLITE_IOERR_FSYNC", True), ("SQLITE_IOERR", True), ("SQLITE_FULL", False),
     ("SQLITE_BUSY", False)],
)  # fmt: skip
def test_only_a_commit_failed_on_io_may_have_reached_the_log(
    error_name: str, may_have_committed: bool
) -> None:
    error = sqlite3.OperationalError(error_name)
    error.sqlite_errorcode = getattr(sqlite3, error_name)
    assert _may_have_committed(error) is may_have_committed
