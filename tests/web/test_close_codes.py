"""The close-code table (web/error_responses.py): each code says what happened.

4xxx codes are 4000 + the HTTP status REST gives for the same error; a condition that is not a
server bug never closes with 1011; a server shutting down is 1001; a chat that moved is 1012;
anything unavailable or overloaded for now is 1013 (REST: 503).
"""

from __future__ import annotations

import attrs
import orjson
import pytest
import trio

from chatactors.actors.subscription import EndReason
from chatactors.cluster.errors import ChatElsewhere, ClusterUnavailable, LeaseLost
from chatactors.domain.errors import (
    ChatError,
    ChatNotFound,
    ChatUnavailable,
    Forbidden,
    InvalidInput,
    NotAParticipant,
    Overloaded,
    ServerShuttingDown,
    StoreUnavailable,
    Unauthenticated,
)
from chatactors.domain.ids import ChatId
from chatactors.storage.memory import MemoryStore
from chatactors.storage.store import LoadedChat
from chatactors.web.app import create_app
from chatactors.web.error_responses import CLOSE_FOR_END, close_code_for, status_for
from tests.conftest import make_settings
from tests.harness.asgi_socket import open_socket

ERRORS: list[ChatError] = [
    ChatNotFound("c1"),
    NotAParticipant("ann", "c1"),
    Forbidden("not you"),
    Unauthenticated("Invalid token"),
    InvalidInput("bad"),
    Overloaded(),
    ChatUnavailable(),
    StoreUnavailable(),
    ServerShuttingDown(),
    ClusterUnavailable(),
    LeaseLost("c1", "not renewed in time"),
    ChatElsewhere("c1", "node-b"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda error: type(error).__name__)
def test_a_client_error_closes_with_4000_plus_its_http_status(error: ChatError) -> None:
    status = status_for(error)
    if 400 <= status < 500:
        assert close_code_for(error) == 4000 + status


@pytest.mark.parametrize("error", ERRORS, ids=lambda error: type(error).__name__)
def test_an_error_the_request_can_hit_is_never_an_internal_error(error: ChatError) -> None:
    assert close_code_for(error) != 1011


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ChatUnavailable(), 1013),
        (ClusterUnavailable(), 1013),  # Redis unreachable: the socket was refused, not broken
        (LeaseLost("c1", "expired"), 1013),
        (ChatElsewhere("c1", "node-b"), 1013),
        (Overloaded(), 1013),
        (StoreUnavailable(), 1013),
        (ServerShuttingDown(), 1001),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, ChatError) else str(value),
)
def test_unavailable_for_now_is_1013_and_shutting_down_1001(error: ChatError, code: int) -> None:
    assert status_for(error) == 503
    assert close_code_for(error) == code


def test_every_way_a_subscription_ends_has_its_own_code() -> None:
    assert {reason: CLOSE_FOR_END[reason] for reason in EndReason} == {
        EndReason.LAGGED: 4008,
        EndReason.SHUTDOWN: 1001,
        EndReason.MOVED: 1012,
        EndReason.RELOADED: 1012,  # reloaded from the store after an unconfirmed write
        EndReason.UNAVAILABLE: 1013,
        EndReason.CRASHED: 1011,  # an actor crashed: the one server bug among them
        EndReason.UNSUBSCRIBED: 1000,
        EndReason.REMOVED: 4403,  # removed from the chat: as if never in it
    }


@attrs.define(eq=False)
class StoreThatCannotLoad(MemoryStore):
    """Creates chats, then cannot load them (a disk gone read-only, a database down)."""

    async def load_chat(
        self, chat_id: ChatId, *, window: int, idempotency_window: int
    ) -> LoadedChat | None:
        raise StoreUnavailable()


async def test_a_user_socket_that_cannot_carry_a_new_chat_closes_with_1013() -> None:
    app = create_app(make_settings(), store=StoreThatCannotLoad())
    async with app.test_app() as test_app:
        client = test_app.test_client()
        async with open_socket(app, "/ws?user_id=alice", subprotocols=("chatactors.v1",)) as ws:
            with trio.fail_after(10):
                assert orjson.loads(await ws.receive())[0]["event"] == "ready"
                created = await client.post("/chats", json={"participants": ["alice", "bob"]})
                assert created.status_code == 200
                assert await ws.close_code() == 1013  # try again later: not a server bug


@attrs.define(eq=False)
class StoreThatFailsToLoadOnce(MemoryStore):
    """Its first load fails as a bug would (the chat's actor crashes, and restarts after
    ``crash_backoff_s``)."""

    failed: bool = False

    async def load_chat(
        self, chat_id: ChatId, *, window: int, idempotency_window: int
    ) -> LoadedChat | None:
        if not self.failed:
            self.failed = True
            raise RuntimeError("a bug, once")
        return await super().load_chat(
            chat_id, window=window, idempotency_window=idempotency_window
        )


async def test_a_chat_socket_opened_while_its_chat_is_unavailable_gets_in_once_it_is_back() -> None:
    app = create_app(make_settings(crash_backoff_s=0.3), store=StoreThatFailsToLoadOnce())
    async with app.test_app() as test_app:
        created = await test_app.test_client().post("/chats", json={"participants": ["ann", "bob"]})
        chat_id = (await created.get_json())["chat_id"]
        with trio.fail_after(10):
            async with open_socket(app, f"/ws/{chat_id}?user_id=ann") as ws:
                # Refused (1013) before; now it waits out the restart and subscribes.
                event = orjson.loads(await ws.receive())
                assert event["event"] == "presence_updated"
                assert event["data"]["user_id"] == "ann"
