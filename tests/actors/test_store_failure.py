"""A store that cannot write (a full disk) fails only the request: the actor, its state and its
subscribers live on, and the chat works again once space is back.

Policy: a real SQLite file in ``tmp_path`` made full with ``PRAGMA max_page_count``; the real
clock with ``trio.fail_after`` (SQLite runs in worker threads).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from chatactors.domain.errors import StoreUnavailable
from chatactors.domain.ids import UserId
from chatactors.domain.models import MessageType
from chatactors.storage.sqlite import open_sqlite_store
from chatactors.storage.store import MessagePage
from tests.actors.events import drain, seqs
from tests.actors.full_disk import BIG, fill_up, free_up
from tests.conftest import make_settings, running_registry

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
            again = await chat.post(ALICE, TEXT, BIG, client_message_id="k")
            assert again.seq == 2  # the failed post took no seq and left no idempotency key
            assert seqs(drain(watcher)) == [2]
            stored = await store.read_messages(chat.chat_id, MessagePage(limit=10))
            assert [m.content for m in stored] == ["before", BIG]
        assert registry.statistics().crashes == 0
