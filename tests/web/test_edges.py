"""Edge behaviour outside the contract: restricted CORS, overload answers, structured logs."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing
from quart.typing import TestClientProtocol as Client

from chatactors.domain.errors import Overloaded
from chatactors.logs import configure_logging
from chatactors.web.answers import _Deadline
from chatactors.web.app import create_app
from tests.conftest import make_settings


@pytest.fixture
async def restricted_client() -> AsyncIterator[Client]:
    settings = make_settings(cors_origins="https://chat.example, https://admin.example")
    async with create_app(settings).test_app() as test_app:
        yield test_app.test_client()


async def test_only_configured_origins_get_cors_headers(restricted_client: Client) -> None:
    allowed = await restricted_client.get("/chats", headers={"Origin": "https://chat.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://chat.example"
    other = await restricted_client.get("/chats", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


async def test_overloaded_is_503_with_retry_after() -> None:
    app = create_app(make_settings(retry_after_s=2.5))
    async with app.test_request_context("/chats"):
        # The app's own handler for errors raised in routes.
        response = await app.make_response(await app.handle_user_exception(Overloaded()))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "3"
    assert "retry" in (await response.get_json())["detail"]


def test_json_logs_carry_the_chat_id(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        configure_logging("info", json=True)
        logging.getLogger("chatactors.test").warning(
            "chat actor crashed", extra={"chat_id": "c-1", "user_id": "alice"}
        )
        line = capsys.readouterr().err.strip().splitlines()[-1]
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    record = json.loads(line)
    assert record["message"] == "chat actor crashed"
    assert (record["chat_id"], record["user_id"], record["levelname"]) == (
        "c-1",
        "alice",
        "WARNING",
    )


async def test_the_command_deadline_raises_too_slow_only_when_it_expires(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with _Deadline(trio.current_time() + 1.0):
        await trio.sleep(0.5)
    with pytest.raises(trio.TooSlowError), _Deadline(trio.current_time() + 1.0):
        await trio.sleep(5)
    # An error inside passes through unchanged.
    with pytest.raises(KeyError), _Deadline(trio.current_time() + 1.0):
        raise KeyError("x")
