"""Fixtures: an app over SQLite in tmp_path with its lifespan running, and its test client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from chatactors.settings import Settings
from chatactors.web.app import create_app


def media_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"store": "sqlite", "data_dir": tmp_path, "bot_enabled": False}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return media_settings(tmp_path)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    app = create_app(settings)
    async with app.test_app() as test_app:
        yield test_app.test_client()
