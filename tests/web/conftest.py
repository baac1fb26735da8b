"""Fixtures for API tests through Quart-Trio's test app (so before/after_serving run)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from chatactors.settings import Settings
from chatactors.web.app import create_app
from tests.conftest import make_settings


@pytest.fixture
def app_settings() -> Settings:
    return make_settings(max_body_bytes=64 * 1024, max_content_chars=32 * 1024)


@pytest.fixture
async def client(app_settings: Settings) -> AsyncIterator[Client]:
    app = create_app(app_settings)
    async with app.test_app() as test_app:
        yield test_app.test_client()


@pytest.fixture
def chat_id_for(client: Client) -> Callable[..., Awaitable[str]]:
    async def create(*participants: str) -> str:
        response = await client.post(
            "/chats", json={"participants": list(participants or ("alice", "bob"))}
        )
        assert response.status_code == 200
        body: dict[str, Any] = await response.get_json()
        return str(body["chat_id"])

    return create
