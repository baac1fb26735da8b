"""Schemathesis over every operation of the served OpenAPI document: the document and the server
agree (issue 26).

Every input the document calls valid is accepted, or refused only for what the document says
depends on the server's state (an unknown id: 404; a user outside the chat, or not its author:
403; a deleted message: 409), or by one of the few rules it can only say in words (listed in
STATE_RULES, each with its reason). Nothing answers 5xx, and every answer's status, content
type, headers and body are as documented.

The app is served by a real Hypercorn on a real socket in this process; schemathesis (which is
synchronous) drives it from a worker thread. Each operation gets a fresh group chat with a
message in it, and half the time a generated id or user is replaced by a real one, so that the
generated bodies reach a live actor instead of stopping at "not found". The examples are few
per operation (the machine is small) and drawn deterministically.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import requests
import schemathesis
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.harness.served_app import served_app, served_settings
from tests.media import samples

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
USERS = ("alice", "bob", "carol")
#: Refusals of valid input that depend on state, by their status.
STATE_STATUSES = {403, 404, 409}
#: The rules the document states only in words (in the operation's 422 or 415 description):
#: (method, path) -> the beginnings of the details that may answer a valid request.
STATE_RULES: dict[tuple[str, str], tuple[str, ...]] = {
    # JSON Schema cannot say that one value is an element of another.
    ("POST", "/chats"): ("user_id (the chat's creator) must be one of its participants",),
    # Whether a message or an upload exists is the server's state.
    ("POST", "/chats/{chat_id}/messages"): (
        "reply_to names no message of this chat",
        "No such upload",
    ),
    ("PATCH", "/chats/{chat_id}/messages/{message_id}"): (
        "only text messages can be edited",
        "a system message can be neither edited nor deleted",
        "No such upload",
    ),
    ("DELETE", "/chats/{chat_id}/messages/{message_id}"): (
        "a system message can be neither edited nor deleted",
    ),
    ("PUT", "/chats/{chat_id}/messages/{message_id}/reactions/{emoji}"): ("a message has at most",),
    ("POST", "/chats/{chat_id}/participants"): ("a chat has at most",),
    # A query language (docs/API.md, "Search"), whose grammar the document states in words; and
    # a cursor, opaque by design: only those the server gave are taken.
    ("GET", "/search"): (
        "q has no words to search for",
        "a prefix needs at least",
        "q has more than",
        "cursor is not one this server gave",
        "cursor continues order=",
    ),
    # An upload's type is found from its bytes, which no schema describes.
    ("POST", "/media"): ("Unsupported media type", "The upload is empty"),
}


@attrs.frozen
class World:
    """Real things to point generated requests at (a fresh set per operation)."""

    chat_id: str
    message_id: str
    media_id: str


async def test_every_valid_input_is_accepted_and_every_answer_is_documented(
    tmp_path: Path,
) -> None:
    # Small limits, so that every body the document allows fits in max_body_bytes.
    limits = {"max_id_length": 32, "max_participants": 8, "max_title_chars": 64}
    server_settings = served_settings(
        tmp_path, max_content_chars=2048, max_history_page=200, **limits
    )
    async with served_app(server_settings) as served:
        schema = await trio.to_thread.run_sync(
            schemathesis.openapi.from_url, f"{served.url}/openapi.json"
        )
        operations = [
            result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)
        ]
        assert len(operations) == len(list(schema.get_all_operations())) >= 20
        failures: list[str] = []
        session = requests.Session()
        for operation in operations:
            world = await _world(served.http)
            fuzz = functools.partial(_fuzz, operation, world, served.url, session)
            failures.extend(await trio.to_thread.run_sync(fuzz))
        assert failures == []
        assert served.services.registry.statistics().crashes == 0


async def _world(http: httpx.AsyncClient) -> World:
    chat = await http.post("/chats", json={"participants": list(USERS), "group": True})
    chat_id = chat.json()["chat_id"]
    body = {"user_id": USERS[0], "type": "text", "content": "hello"}
    message = await http.post(f"/chats/{chat_id}/messages", json=body)
    upload = await http.post("/media", content=samples.png(), headers={"Content-Type": "image/png"})
    return World(chat_id, message.json()["message"]["id"], upload.json()["id"])


def _fuzz(operation: Any, world: World, url: str, session: requests.Session) -> list[str]:
    """Run the operation's examples; the failures, one line each (empty if none)."""
    failures: list[str] = []
    where = (operation.method.upper(), operation.path)

    @given(case=operation.as_strategy(), real=st.data())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: schemathesis.Case[Any], real: st.DataObject) -> None:
        _point_at(case, world, real)
        response = case.call(base_url=url, session=session)
        text = response.content.decode(errors="replace")
        refusal = _unexpected_refusal(where, response.status_code, text)
        if refusal is not None:
            failures.append(f"{' '.join(where)}: {refusal}\n  {case.as_curl_command()}")
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except (Exception, BaseExceptionGroup) as error:  # one report names every failing operation
        failures.append(f"{' '.join(where)}: {error}")
    return failures


def _point_at(case: schemathesis.Case[Any], world: World, real: st.DataObject) -> None:
    """Replace a generated id or user with a real one (all valid), three times in four."""

    def maybe() -> bool:
        return real.draw(st.integers(0, 3)) < 3

    path = case.path_parameters or {}
    for name, value in (("chat_id", world.chat_id), ("message_id", world.message_id),
                        ("media_id", world.media_id), ("name", "sunrise.png")):  # fmt: skip
        if name in path and maybe():
            path[name] = value
    if "member" in path and maybe():
        path["member"] = real.draw(st.sampled_from(USERS))
    for values in (case.query, case.body):
        for name in ("user_id", "from"):
            if isinstance(values, dict) and name in values and maybe():
                values[name] = real.draw(st.sampled_from(USERS))
    if isinstance(case.query, dict) and "chat_id" in case.query and maybe():
        case.query["chat_id"] = world.chat_id
    body: dict[str, Any] = case.body if isinstance(case.body, dict) else {}
    if "reply_to" in body and maybe():
        body["reply_to"] = world.message_id
    creating = case.operation.path == "/chats" and case.method == "POST"
    if creating and body.get("user_id") is not None and maybe():
        body["user_id"] = body["participants"][0]  # the creator: one of them


def _unexpected_refusal(where: tuple[str, str], status: int, text: str) -> str | None:
    """Why a valid request's answer is wrong, or None if it is one the document allows."""
    if status < 400 or status in STATE_STATUSES:
        return None
    if status in (415, 422) and text.startswith('{"detail":"'):
        detail = text.removeprefix('{"detail":"')
        if detail.startswith(STATE_RULES.get(where, ())):
            return None
    return f"a valid request was refused with {status}: {text[:300]}"
