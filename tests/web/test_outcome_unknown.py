"""What a send answers when its outcome is unknown, over REST and a chatactors.v1 socket: 504
"outcome unknown" (with Retry-After) when it may have happened, 503 only when it surely did not.

Policy: Quart-Trio's test app in process; ``autojump_clock`` for the command timeout; a memory
store whose append under test is held or left unconfirmed (``tests/actors/unconfirmed_store``).
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import trio
import trio.testing
from quart.typing import TestClientProtocol as Client

from chatactors.web.app import create_app
from chatactors.web.error_responses import TOO_SLOW_DETAIL
from tests.actors.unconfirmed_store import Unconfirmed, UnconfirmedStore
from tests.conftest import make_settings
from tests.harness.asgi_socket import AsgiTestSocket, open_socket

UNKNOWN = "outcome unknown: retry with the same client_message_id"


async def _chat(client: Client) -> str:
    response = await client.post("/chats", json={"participants": ["alice", "bob"]})
    body: dict[str, Any] = await response.get_json()
    return str(body["chat_id"])


def _send(key: str, content: str = "hello") -> dict[str, Any]:
    return {"user_id": "alice", "type": "text", "content": content, "client_message_id": key}


async def _contents(client: Client, chat_id: str) -> list[str]:
    response = await client.get(f"/chats/{chat_id}/messages")
    return [m["content"] for m in await response.get_json()]


async def test_an_unconfirmed_send_is_504_and_its_retry_returns_the_stored_message() -> None:
    store = UnconfirmedStore()
    app = create_app(make_settings(), store=store)
    async with app.test_app() as test_app:
        client = test_app.test_client()
        chat_id = await _chat(client)
        store.hold_next_append(Unconfirmed.LANDED)
        store.release.set()
        unknown = await client.post(f"/chats/{chat_id}/messages", json=_send("k"))
        assert unknown.status_code == 504
        assert await unknown.get_json() == {"detail": UNKNOWN}
        assert unknown.headers["Retry-After"] == "1"
        retried = await client.post(f"/chats/{chat_id}/messages", json=_send("k"))
        assert retried.status_code == 200
        assert (await retried.get_json())["message"]["seq"] == 1
        assert await _contents(client, chat_id) == ["hello"]
        metrics = await (await client.get("/metrics")).get_data(as_text=True)
        assert "chatactors_actor_reloads_total 1.0" in metrics.splitlines()


async def test_a_send_past_the_command_timeout_is_504_once_begun_and_503_if_it_never_ran(
    mock_clock: trio.testing.MockClock,
) -> None:
    store = UnconfirmedStore()
    app = create_app(make_settings(command_timeout_s=10), store=store)
    async with app.test_app() as test_app:
        # Time jumps only once the app has started: its start-up runs worker threads.
        mock_clock.autojump_threshold = 0
        client = test_app.test_client()
        chat_id = await _chat(client)
        store.hold_next_append(Unconfirmed.CONFIRMED)
        answers: dict[str, Any] = {}

        async def send(key: str) -> None:
            response = await client.post(f"/chats/{chat_id}/messages", json=_send(key, key))
            answers[key] = (response.status_code, (await response.get_json())["detail"])

        async with trio.open_nursery() as nursery:
            nursery.start_soon(send, "begun")
            await store.sent.wait()
            nursery.start_soon(send, "queued")
        # Both waited the whole command timeout: the one the actor had begun may still be
        # stored; the one still queued was withdrawn and never will be.
        assert answers == {"begun": (504, UNKNOWN), "queued": (503, TOO_SLOW_DETAIL)}
        store.release.set()
        await trio.testing.wait_all_tasks_blocked()
        assert await _contents(client, chat_id) == ["begun"]
        mock_clock.autojump_threshold = math.inf


async def _answers(ws: AsgiTestSocket, count: int) -> list[dict[str, Any]]:
    answers: list[dict[str, Any]] = []
    with trio.fail_after(30):
        while len(answers) < count:
            frame = orjson.loads(await ws.receive())
            answers.extend(e for e in frame if e["event"] in ("ack", "error"))
    return answers


async def test_a_v1_send_of_unknown_outcome_gets_an_error_504_and_the_socket_closes_1012() -> None:
    store = UnconfirmedStore()
    app = create_app(make_settings(), store=store)
    async with app.test_app() as test_app:
        client = test_app.test_client()
        chat_id = await _chat(client)
        url = f"/ws/{chat_id}?user_id=alice"
        async with open_socket(app, url, subprotocols=("chatactors.v1",)) as ws:
            store.hold_next_append(Unconfirmed.LOST)
            await ws.send(orjson.dumps({"op": "send", "ref": 1, "content": "x",
                                        "client_message_id": "k"}))  # fmt: skip
            await ws.send(orjson.dumps({"op": "send", "ref": 2, "content": "y",
                                        "client_message_id": "j"}))  # fmt: skip
            await store.sent.wait()
            store.release.set()
            first, second = await _answers(ws, 2)
            # The chat reloads from the store: its sockets resume from their seq (1012).
            assert await ws.close_code() == 1012
        assert first["data"] == {"ref": 1, "status": 504, "detail": UNKNOWN}
        assert (second["data"]["ref"], second["data"]["status"]) == (2, 503)
        retried = await client.post(f"/chats/{chat_id}/messages", json=_send("k", "x"))
        assert (await retried.get_json())["message"]["seq"] == 1
