"""Fixtures for the storage tests: a real SQLite file in ``tmp_path``, and the memory store.

Worker threads make the autojump clock jump, so these tests run on the real clock, each
guarded by ``trio.fail_after``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatactors.storage.memory import MemoryStore
from chatactors.storage.sqlite import open_sqlite_store
from chatactors.storage.store import ChatStore


@pytest.fixture(name="store", params=["sqlite", "memory"])
async def _store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ChatStore]:
    """Each behavioural test runs against both engines."""
    if request.param == "memory":
        yield MemoryStore()
        return
    async with open_sqlite_store(tmp_path) as store:
        yield store
