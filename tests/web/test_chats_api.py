"""Every REST endpoint of the contract, and every row of the error table."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

ChatFactory = Callable[..., Awaitable[str]]
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def json_of(response: Any) -> Any:
    return await response.get_json()


async def test_create_chat_echoes_participants_as_sent(client: Client) -> None:
    response = await client.post("/chats", json={"participants": ["alice", "bob", "alice"],
                                                  "extra": "ignored"})  # fmt: skip
    assert response.status_code == 200
    body = await json_of(response)
    assert body["participants"] == ["alice", "bob", "alice"]
    assert re.fullmatch(r"[0-9a-f-]{36}", body["chat_id"])


async def test_list_chats_in_creation_order_with_bot_once(
    client: Client, chat_id_for: ChatFactory
) -> None:
    first = await chat_id_for("alice", "bot_user")
    second = await chat_id_for("carol")
    chats = await json_of(await client.get("/chats"))
    assert [c["chat_id"] for c in chats] == [first, second]
    assert chats[0]["participants"] == ["alice", "bot_user"]
    assert chats[1]["participants"] == ["carol", "bot_user"]
    assert TIMESTAMP.match(chats[0]["created_at"])


async def test_user_chat_list_has_last_message_and_unread_newest_first(
    client: Client, chat_id_for: ChatFactory
) -> None:
    older = await chat_id_for("alice", "bob")
    newer = await chat_id_for("alice", "carol")
    await chat_id_for("dave")
    for text in ("one", "two"):
        await client.post(f"/chats/{older}/messages",
                          json={"user_id": "bob", "type": "text", "content": text})  # fmt: skip
    await client.post(f"/chats/{newer}/messages",
                      json={"user_id": "alice", "type": "text", "content": "mine"})  # fmt: skip
    listed = await json_of(await client.get("/chats?user_id=alice"))
    assert [c["chat_id"] for c in listed] == [newer, older]
    assert [c["unread_count"] for c in listed] == [0, 2]
    assert listed[1]["last_message"]["content"] == "two"
    await client.post(f"/chats/{older}/read", json={"user_id": "alice"})
    listed = await json_of(await client.get("/chats?user_id=alice"))
    assert [c["unread_count"] for c in listed] == [0, 0]


async def test_send_and_list_messages(client: Client, chat_id_for: ChatFactory) -> None:
    chat_id = await chat_id_for()
    response = await client.post(
        f"/chats/{chat_id}/messages",
        json={"user_id": "alice", "type": "text", "content": "Hello!", "unknown": 1},
    )
    assert response.status_code == 200
    sent = await json_of(response)
    assert sent["status"] == "message_sent"
    messages = await json_of(await client.get(f"/chats/{chat_id}/messages"))
    assert len(messages) == 1
    message = messages[0]
    assert {k: message[k] for k in ("user_id", "type", "content", "seq")} == {
        "user_id": "alice", "type": "text", "content": "Hello!", "seq": 1}  # fmt: skip
    assert TIMESTAMP.match(message["timestamp"])
    assert message == sent["message"]


async def test_json_without_content_type_is_accepted(
    client: Client, chat_id_for: ChatFactory
) -> None:
    chat_id = await chat_id_for()
    response = await client.post(
        f"/chats/{chat_id}/messages",
        data=b'{"user_id": "alice", "type": "image", "content": "https://example.org/a.png"}',
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    )
    assert response.status_code == 200


async def test_client_message_id_makes_a_retry_harmless(
    client: Client, chat_id_for: ChatFactory
) -> None:
    chat_id = await chat_id_for()
    body = {"user_id": "alice", "type": "text", "content": "once", "client_message_id": "k1"}
    first = await json_of(await client.post(f"/chats/{chat_id}/messages", json=body))
    second = await json_of(await client.post(f"/chats/{chat_id}/messages", json=body))
    assert first == second
    assert len(await json_of(await client.get(f"/chats/{chat_id}/messages"))) == 1


async def test_paging_query(client: Client, chat_id_for: ChatFactory) -> None:
    chat_id = await chat_id_for()
    for i in range(6):
        await client.post(f"/chats/{chat_id}/messages",
                          json={"user_id": "alice", "type": "text", "content": str(i)})  # fmt: skip

    async def seqs(query: str) -> list[int]:
        return [
            m["seq"] for m in await json_of(await client.get(f"/chats/{chat_id}/messages?{query}"))
        ]

    assert await seqs("limit=2") == [5, 6]
    assert await seqs("limit=2&before_seq=3") == [1, 2]
    assert await seqs("after_seq=4") == [5, 6]


async def test_presence_set_and_get(client: Client, chat_id_for: ChatFactory) -> None:
    chat_id = await chat_id_for()
    response = await client.post(f"/chats/{chat_id}/presence",
                                 json={"user_id": "alice", "status": "typing"})  # fmt: skip
    assert await json_of(response) == {"chat_id": chat_id, "user_id": "alice", "status": "typing"}
    presence = await json_of(await client.get(f"/chats/{chat_id}/presence"))
    assert [(p["user_id"], p["status"]) for p in presence] == [
        ("alice", "typing"), ("bob", "offline"), ("bot_user", "offline")]  # fmt: skip
    assert all(TIMESTAMP.match(p["last_seen"]) for p in presence)


async def test_mark_read_answers_newest_message(client: Client, chat_id_for: ChatFactory) -> None:
    chat_id = await chat_id_for()
    empty = await json_of(await client.post(f"/chats/{chat_id}/read", json={"user_id": "bob"}))
    assert empty == {"chat_id": chat_id, "user_id": "bob", "last_read_message_id": None,
                     "last_read_seq": 0}  # fmt: skip
    sent = await json_of(await client.post(f"/chats/{chat_id}/messages",
                         json={"user_id": "alice", "type": "text", "content": "x"}))  # fmt: skip
    read = await json_of(await client.post(f"/chats/{chat_id}/read", json={"user_id": "bob"}))
    assert read["last_read_message_id"] == sent["message"]["id"]
    receipts = await json_of(await client.get(f"/chats/{chat_id}/read"))
    assert receipts == {
        "chat_id": chat_id,
        "read_receipts": {"alice": None, "bob": sent["message"]["id"], "bot_user": None},
        "read_seqs": {"alice": 0, "bob": 1, "bot_user": 0},
    }


async def test_get_chat_info(client: Client, chat_id_for: ChatFactory) -> None:
    chat_id = await chat_id_for()
    info = await json_of(await client.get(f"/chats/{chat_id}"))
    assert info["participants"] == ["alice", "bob", "bot_user"]
    assert info["last_seq"] == 0


# -- the error table ------------------------------------------------------------------------

MESSAGE = {"user_id": "alice", "type": "text", "content": "hi"}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "detail"),
    [
        ("GET", "/chats/missing/messages", None, 404, "Chat not found"),
        ("POST", "/chats/missing/messages", MESSAGE, 404, "Chat not found"),
        ("POST", "/chats/missing/presence", {"user_id": "a", "status": "online"}, 404, "not found"),
        ("GET", "/chats/missing/presence", None, 404, "Chat not found"),
        ("POST", "/chats/missing/read", {"user_id": "a"}, 404, "Chat not found"),
        ("GET", "/chats/missing/read", None, 404, "Chat not found"),
        ("GET", "/chats/missing", None, 404, "Chat not found"),
        ("POST", "/chats/{id}/messages", {**MESSAGE, "user_id": "eve"}, 403, "not a participant"),
        ("POST", "/chats/{id}/presence", {"user_id": "eve", "status": "online"}, 403, "eve"),
        ("POST", "/chats/{id}/read", {"user_id": "eve"}, 403, "not a participant"),
        ("POST", "/chats/{id}/messages", {**MESSAGE, "type": "video"}, 422, "$.type"),
        ("POST", "/chats/{id}/presence", {"user_id": "alice", "status": "away"}, 422, "$.status"),
        ("POST", "/chats/{id}/messages", {"user_id": "alice", "type": "text"}, 422, "content"),
        ("POST", "/chats/{id}/messages", {**MESSAGE, "content": 5}, 422, "$.content"),
        ("POST", "/chats/{id}/messages", {**MESSAGE, "content": ""}, 422, "empty"),
        ("POST", "/chats/{id}/messages", {**MESSAGE, "user_id": ""}, 422, "user_id"),
        ("POST", "/chats/{id}/messages", {**MESSAGE, "client_message_id": ""}, 422, "client"),
        ("POST", "/chats/{id}/messages", [1, 2], 422, "Invalid request"),
        ("POST", "/chats", {}, 422, "participants"),
        ("POST", "/chats", {"participants": "alice"}, 422, "$.participants"),
        ("POST", "/chats", {"participants": []}, 422, "at least one"),
        ("POST", "/chats", {"participants": ["x" * 500]}, 422, "longer than"),
        ("GET", "/chats/{id}/messages?limit=0", None, 422, "limit"),
        ("GET", "/chats/{id}/messages?limit=abc", None, 422, "limit"),
        ("GET", "/chats/{id}/messages?before_seq=-1", None, 422, "before_seq"),
        ("GET", "/nowhere", None, 404, "Not Found"),
        ("DELETE", "/chats", None, 405, "method"),
    ],
)
async def test_error_rows(
    client: Client,
    chat_id_for: ChatFactory,
    method: str,
    path: str,
    body: Any,
    status: int,
    detail: str,
) -> None:
    chat_id = await chat_id_for()
    response = await client.open(
        path.replace("{id}", chat_id), method=method, **({} if body is None else {"json": body})
    )
    assert response.status_code == status
    answer = await json_of(response)
    assert detail.lower() in answer["detail"].lower()
    # Nothing changed.
    assert await json_of(await client.get(f"/chats/{chat_id}/messages")) == []


@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b'{"user_id": "alice",}'])
async def test_malformed_json_is_422_and_changes_nothing(
    client: Client, chat_id_for: ChatFactory, raw: bytes
) -> None:
    chat_id = await chat_id_for()
    response = await client.post(f"/chats/{chat_id}/messages", data=raw,
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 422
    assert "not valid JSON" in (await json_of(response))["detail"]
    assert await json_of(await client.get(f"/chats/{chat_id}/messages")) == []


async def test_oversized_body_is_413(client: Client, chat_id_for: ChatFactory) -> None:
    chat_id = await chat_id_for()
    response = await client.post(f"/chats/{chat_id}/messages",
                                 json={**MESSAGE, "content": "x" * 100_000})  # fmt: skip
    assert response.status_code == 413
    assert "limit" in (await json_of(response))["detail"]


async def test_content_over_the_content_limit_is_422(
    client: Client, chat_id_for: ChatFactory
) -> None:
    chat_id = await chat_id_for()
    response = await client.post(f"/chats/{chat_id}/messages",
                                 json={**MESSAGE, "content": "x" * 40_000})  # fmt: skip
    assert response.status_code == 422


async def test_cors_preflight_reflects_origin_and_headers(client: Client) -> None:
    response = await client.options(
        "/chats",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-custom",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Allow-Headers"] == "content-type, x-custom"


async def test_cors_on_simple_requests(client: Client) -> None:
    response = await client.get("/chats", headers={"Origin": "https://app.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"


async def test_openapi_document_lists_the_contract(client: Client) -> None:
    document = await json_of(await client.get("/openapi.json"))
    paths = document["paths"]
    for path in ("/chats", "/chats/{chat_id}/messages", "/chats/{chat_id}/presence",
                 "/chats/{chat_id}/read"):  # fmt: skip
        assert path in paths
    assert "requestBody" in paths["/chats/{chat_id}/messages"]["post"]


async def test_without_access_control_bodies_may_post_as_bot_user(
    client: Client, chat_id_for: ChatFactory
) -> None:
    """As the reference trusts bodies: with access control off, anyone may speak as the bot."""
    chat = await chat_id_for()
    body = {"user_id": "bot_user", "type": "text", "content": "beep"}
    response = await client.post(f"/chats/{chat}/messages", json=body)
    assert response.status_code == 200
    assert (await json_of(response))["message"]["user_id"] == "bot_user"
