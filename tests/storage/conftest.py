"""Fixtures for the storage tests: a real SQLite file in ``tmp_path``, a fresh database on the
session's real PostgreSQL server (``tests/pg_server.py``), and the memory store.

Worker threads make the autojump clock jump, so these tests run on the real clock, each
guarded by ``trio.fail_after``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatactors.storage.memory import MemoryStore
from chatactors.storage.postgres import PgStore, open_postgres_store
from chatactors.storage.sqlite import SqliteStore, open_sqlite_store
from chatactors.storage.store import ChatStore


@pytest.fixture(name="store", params=["sqlite", "postgres", "memory"])
async def _store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ChatStore]:
    """Each behavioural test runs against every engine."""
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param == "postgres":
        url = request.getfixturevalue("database_url")
        async with open_postgres_store(url) as pg_store:
            yield pg_store
        return
    async with open_sqlite_store(tmp_path) as store:
        yield store


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
