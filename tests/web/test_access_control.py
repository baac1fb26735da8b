"""Access control on: the matrix of who may do what, bad tokens, the socket, rate limits."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
import trio
from quart.typing import TestClientProtocol as Client

from chatactors.web.app import create_app
from chatactors.web.auth import issue_token
from tests.conftest import make_settings
from tests.harness.asgi_socket import open_socket

SECRET = "test-secret-" + "x" * 40


def bearer(user: str, *, ttl_s: float = 3600, secret: str = SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(secret, user, ttl_s=ttl_s)}"}


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    settings = make_settings(
        auth_enabled=True, auth_secret=SECRET, rate_limit_per_s=1, rate_limit_burst=3
    )
    async with create_app(settings).test_app() as test_app:
        yield test_app.test_client()


@pytest.fixture
async def chat_id(client: Client) -> str:
    response = await client.post(
        "/chats", json={"participants": ["owner", "friend"]}, headers=bearer("owner")
    )
    assert response.status_code == 200
    return str((await response.get_json())["chat_id"])


async def status(response: Any) -> int:
    code: int = response.status_code
    return code


@pytest.mark.parametrize(
    ("who", "expected"),
    [("owner", 200), ("friend", 200), ("outsider", 403)],
)
async def test_reading_a_chat_needs_to_be_a_participant(
    client: Client, chat_id: str, who: str, expected: int
) -> None:
    for path in ("", "/messages", "/presence", "/read"):
        response = await client.get(f"/chats/{chat_id}{path}", headers=bearer(who))
        assert response.status_code == expected, path


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "Missing bearer token"),
        ({"Authorization": "Basic b3duZXI6cHc="}, "Missing bearer token"),
        ({"Authorization": "Bearer not-a-jwt"}, "Invalid token"),
        (bearer("owner", secret="another-secret-" + "y" * 40), "Invalid token"),
        (bearer("owner", ttl_s=-10), "expired"),
    ],
)
async def test_bad_or_missing_tokens_get_401(
    client: Client, chat_id: str, headers: dict[str, str], detail: str
) -> None:
    response = await client.get(f"/chats/{chat_id}/messages", headers=headers)
    assert response.status_code == 401
    assert detail in (await response.get_json())["detail"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_users_act_only_as_themselves(client: Client, chat_id: str) -> None:
    as_friend = {"user_id": "friend", "type": "text", "content": "forged"}
    forged = await client.post(
        f"/chats/{chat_id}/messages", json=as_friend, headers=bearer("owner")
    )
    assert forged.status_code == 403
    for path, body in (("presence", {"user_id": "friend", "status": "online"}),
                       ("read", {"user_id": "friend"})):  # fmt: skip
        response = await client.post(f"/chats/{chat_id}/{path}", json=body, headers=bearer("owner"))
        assert response.status_code == 403
    own = await client.post(f"/chats/{chat_id}/messages", json=as_friend, headers=bearer("friend"))
    assert own.status_code == 200
    messages = await (
        await client.get(f"/chats/{chat_id}/messages", headers=bearer("owner"))
    ).get_json()
    assert [m["content"] for m in messages] == ["forged"]  # sent by friend, as friend


async def test_changes_to_messages_act_as_the_tokens_user(client: Client, chat_id: str) -> None:
    body = {"user_id": "owner", "type": "text", "content": "mine"}
    sent = await client.post(f"/chats/{chat_id}/messages", json=body, headers=bearer("owner"))
    message = f"/chats/{chat_id}/messages/{(await sent.get_json())['message']['id']}"
    thumbs = f"{message}/reactions/%F0%9F%91%8D"
    forged = [
        await client.patch(message, json={"user_id": "owner", "content": "x"},
                           headers=bearer("friend")),
        await client.delete(f"{message}?user_id=owner", headers=bearer("friend")),
        await client.put(thumbs, json={"user_id": "owner"}, headers=bearer("friend")),
        await client.delete(f"{thumbs}?user_id=owner", headers=bearer("friend")),
        await client.put(thumbs, json={"user_id": "outsider"}, headers=bearer("outsider")),
        await client.patch(message, json={"user_id": "owner", "content": "x"}),
    ]  # fmt: skip
    assert [r.status_code for r in forged] == [403, 403, 403, 403, 403, 401]
    # Without ?user_id= a delete acts as the token's user.
    reacted = await client.put(thumbs, json={"user_id": "friend"}, headers=bearer("friend"))
    removed = await client.delete(thumbs, headers=bearer("friend"))
    assert [reacted.status_code, removed.status_code] == [200, 200]
    assert (await removed.get_json())["message"]["reactions"] == {}
    deleted = await client.delete(message, headers=bearer("owner"))
    assert (await deleted.get_json())["message"]["deleted"] is True


async def test_outsider_cannot_post_and_chat_list_is_own_only(client: Client, chat_id: str) -> None:
    body = {"user_id": "outsider", "type": "text", "content": "hi"}
    response = await client.post(
        f"/chats/{chat_id}/messages", json=body, headers=bearer("outsider")
    )
    assert response.status_code == 403
    assert await (await client.get("/chats", headers=bearer("outsider"))).get_json() == []
    owners = await (await client.get("/chats", headers=bearer("owner"))).get_json()
    assert [c["chat_id"] for c in owners] == [chat_id]
    peek = await client.get("/chats?user_id=owner", headers=bearer("outsider"))
    assert peek.status_code == 403


async def test_cannot_create_a_chat_without_oneself(client: Client) -> None:
    response = await client.post("/chats", json={"participants": ["a", "b"]}, headers=bearer("c"))
    assert response.status_code == 403


async def test_public_paths_need_no_token(client: Client) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert (await client.get(path)).status_code == 200, path


async def test_sends_over_the_rate_limit_get_429_with_retry_after(
    client: Client, chat_id: str
) -> None:
    body = {"user_id": "owner", "type": "text", "content": "spam"}
    codes = [
        (await client.post(f"/chats/{chat_id}/messages", json=body, headers=bearer("owner")))
        for _ in range(5)
    ]
    assert [r.status_code for r in codes] == [200, 200, 200, 429, 429]
    assert int(codes[3].headers["Retry-After"]) >= 1
    # Another user has their own bucket.
    body_friend = {**body, "user_id": "friend"}
    response = await client.post(f"/chats/{chat_id}/messages", json=body_friend,
                                 headers=bearer("friend"))  # fmt: skip
    assert response.status_code == 200


async def socket_close_code(client: Client, path: str) -> int:
    async with open_socket(client.app, path) as ws:
        return await ws.close_code()


async def test_socket_needs_a_valid_token_for_a_participant(client: Client, chat_id: str) -> None:
    token = issue_token(SECRET, "friend", ttl_s=60)
    outsider = issue_token(SECRET, "outsider", ttl_s=60)
    assert await socket_close_code(client, f"/ws/{chat_id}") == 4401
    assert await socket_close_code(client, f"/ws/{chat_id}?token=garbage") == 4401
    assert await socket_close_code(client, f"/ws/{chat_id}?token={outsider}") == 4403
    assert await socket_close_code(client, f"/ws/{chat_id}?token={token}&user_id=owner") == 4403
    async with open_socket(client.app, f"/ws/{chat_id}?token={token}") as ws:
        with trio.fail_after(5):
            first = await ws.receive()
        assert '"user_id":"friend"' in str(first)  # the token's user came online


def signed(claims: dict[str, Any]) -> str:
    """A token signed with the server's secret, whatever its claims say."""
    return jwt.encode({"exp": int(time.time()) + 60, **claims}, SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(None, id="missing"),
        pytest.param("garbage", id="garbage"),
        pytest.param(issue_token("another-secret-" + "y" * 40, "owner", ttl_s=60), id="forged"),
        pytest.param(issue_token(SECRET, "owner", ttl_s=-10), id="expired"),
        pytest.param(signed({}), id="no-sub"),
        pytest.param(signed({"sub": ""}), id="empty-sub"),
        pytest.param(signed({"sub": "   "}), id="blank-sub"),
        pytest.param(signed({"sub": "own\x00er"}), id="control-sub"),
        pytest.param(signed({"sub": "o" * 129}), id="long-sub"),
        pytest.param(signed({"sub": 42}), id="number-sub"),
        pytest.param(signed({"sub": "bot_user"}), id="bot-sub"),
    ],
)
async def test_a_token_rest_refuses_with_401_closes_sockets_with_4401(
    client: Client, chat_id: str, token: str | None
) -> None:
    """Socket codes are 4000 + the HTTP status REST gives for the same credentials."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    response = await client.get(f"/chats/{chat_id}/messages", headers=headers)
    assert response.status_code == 401
    query = "" if token is None else f"?token={token}"
    assert await socket_close_code(client, f"/ws/{chat_id}{query}") == 4401
    assert await socket_close_code(client, f"/ws{query}") == 4401


async def test_no_token_may_act_as_bot_user(client: Client, chat_id: str) -> None:
    """Every chat has bot_user, so its token would open every chat (issue 12, item 8)."""
    as_bot = bearer("bot_user")
    post = {"user_id": "bot_user", "type": "text", "content": "forged"}
    for method, path, body in (
        ("GET", f"/chats/{chat_id}/messages", None),
        ("GET", f"/chats/{chat_id}", None),
        ("GET", "/chats", None),
        ("POST", f"/chats/{chat_id}/messages", post),
        ("POST", f"/chats/{chat_id}/presence", {"user_id": "bot_user", "status": "online"}),
        ("POST", "/chats", {"participants": ["bot_user", "owner"]}),
        ("POST", "/media", None),
    ):
        response = await client.open(path, method=method, json=body, headers=as_bot)
        assert response.status_code == 401, (method, path)
        assert "bot_user" in (await response.get_json())["detail"]
    token = issue_token(SECRET, "bot_user", ttl_s=60)
    assert await socket_close_code(client, f"/ws/{chat_id}?token={token}") == 4401
    # The control: the chat's participants still get in, and nothing was posted as the bot.
    messages = await client.get(f"/chats/{chat_id}/messages", headers=bearer("owner"))
    assert await messages.get_json() == []


async def test_search_is_the_token_users_own(client: Client, chat_id: str) -> None:
    body = {"user_id": "owner", "type": "text", "content": "the vault combination"}
    sent = await client.post(f"/chats/{chat_id}/messages", json=body, headers=bearer("owner"))
    assert sent.status_code == 200
    mine = await client.get("/search?q=vault", headers=bearer("friend"))  # user_id: the token's
    assert [hit["chat_id"] for hit in (await mine.get_json())["results"]] == [chat_id]
    as_other = await client.get("/search?q=vault&user_id=owner", headers=bearer("friend"))
    assert as_other.status_code == 403
    outsider = await client.get("/search?q=vault", headers=bearer("outsider"))
    assert (await outsider.get_json())["results"] == []
    unsigned = await client.get("/search?q=vault&user_id=owner")
    assert unsigned.status_code == 401


async def test_a_removed_member_loses_reads_and_sockets_with_their_own_token(
    client: Client,
) -> None:
    # The token's user creates it (and is its admin), wherever the list names them.
    created = await client.post(
        "/chats", json={"participants": ["friend", "owner", "third"]}, headers=bearer("owner")
    )
    assert (await created.get_json())["created_by"] == "owner"
    chat_id = (await created.get_json())["chat_id"]
    path = f"/chats/{chat_id}/participants/friend"
    # As someone else, or without being the admin: refused.
    as_owner = await client.delete(f"{path}?user_id=owner", headers=bearer("third"))
    assert await status(as_owner) == 403
    assert await status(await client.delete(path, headers=bearer("third"))) == 403
    socket = f"/ws/{chat_id}?token={issue_token(SECRET, 'friend', ttl_s=60)}"
    async with open_socket(client.app, socket) as ws:
        assert await status(await client.delete(path, headers=bearer("owner"))) == 200
        assert await ws.close_code() == 4403
    for read in ("", "/messages", "/presence", "/read"):
        response = await client.get(f"/chats/{chat_id}{read}", headers=bearer("friend"))
        assert response.status_code == 403, read
    assert await (await client.get("/chats", headers=bearer("friend"))).get_json() == []
    naming = {"user_id": "owner", "title": "mine"}
    refused = await client.patch(f"/chats/{chat_id}", json=naming, headers=bearer("third"))
    assert refused.status_code == 403  # acting as someone else


async def test_a_chat_is_created_by_the_token_user_only(client: Client) -> None:
    body = {"participants": ["owner", "friend"], "user_id": "friend"}
    response = await client.post("/chats", json=body, headers=bearer("owner"))
    assert response.status_code == 403
