"""End-to-end fixtures: the real app on a real Hypercorn (127.0.0.1, port 0) over SQLite.

Policy: only loopback; port 0; every wait bounded (``clients.WAIT_S`` or ``trio.fail_after``);
the real clock (sockets and SQLite threads); the bot off unless a test turns it on with zero
delays; nothing sleeps to synchronise: tests wait for the frames they expect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness.served_app import ServedApp, served_app, served_settings


@pytest.fixture(name="server")
async def _server(tmp_path: Path) -> AsyncIterator[ServedApp]:
    async with served_app(served_settings(tmp_path)) as served:
        yield served
