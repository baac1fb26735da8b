"""End-to-end fixtures: the real app on a real Hypercorn (127.0.0.1, port 0) over SQLite.

Policy: only loopback; port 0; every wait bounded (``served.WAIT_S`` or ``trio.fail_after``);
the real clock (sockets and SQLite threads); the bot off unless a test turns it on with zero
delays; nothing sleeps to synchronise: tests wait for the frames they expect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chatactors.settings import Settings

from .served import Served, serving


def e2e_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 0,
        "store": "sqlite",
        "data_dir": tmp_path,
        "bot_enabled": False,
        "shutdown_timeout_s": 5.0,
        "ws_ping_interval_s": 0.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(name="server")
async def _server(tmp_path: Path) -> AsyncIterator[Served]:
    async with serving(e2e_settings(tmp_path)) as served:
        yield served
