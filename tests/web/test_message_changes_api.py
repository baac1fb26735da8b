"""REST for messages that change: edit, delete, reactions and replies, and every error they
answer (403/404/409/422, never 500), with the exact answer shapes of docs/API.md.

Policy: the app through Quart-Trio's test client (lifespan included), the bot off so that it
takes no log positions; emoji in paths percent-encoded as a browser's ``encodeURIComponent``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import pytest
from quart.typing import TestClientProtocol as Client

from chatactors.settings import Settings
from tests.conftest import make_settings

ChatFactory = Callable[..., Awaitable[str]]


@pytest.fixture
def app_settings() -> Settings:
    return make_settings(bot_enabled=False, max_reaction_keys=3, max_content_chars=1000)


async def send(client: Client, chat_id: str, user: str = "alice", **body: Any) -> dict[str, Any]:
    response = await client.post(
        f"/chats/{chat_id}/messages",
        json={"user_id": user, "type": "text", "content": "hello", **body},
    )
    assert response.status_code == 200, await response.get_data()
    sent: dict[str, Any] = (await response.get_json())["message"]
    return sent


def reaction_path(chat_id: str, message_id: str, emoji: str) -> str:
    return f"/chats/{chat_id}/messages/{message_id}/reactions/{quote(emoji, safe='')}"


async def answer(response: Any, status: int = 200) -> Any:
    """The JSON body of ``response``, which must have ``status``."""
    assert response.status_code == status, await response.get_data()
    return await response.get_json()


async def test_a_message_has_its_change_keys_from_the_start(
    client: Client, chat_id_for: ChatFactory
) -> None:
    chat_id = await chat_id_for()
    sent = await send(client, chat_id)
    assert {k: sent[k] for k in ("edited_at", "deleted", "reactions", "reply_to")} == {
        "edited_at": None, "deleted": False, "reactions": {}, "reply_to": None,
    }  # fmt: skip


async def test_edit_answers_the_message_updated_and_history_shows_it(
    client: Client, chat_id_for: ChatFactory
) -> None:
    chat_id = await chat_id_for()
    sent = await send(client, chat_id, content="helo")
    edited = await answer(
        await client.patch(
            f"/chats/{chat_id}/messages/{sent['id']}", json={"user_id": "alice", "content": "hello"}
        )
    )
    assert edited["status"] == "message_updated"
    message = edited["message"]
    assert (message["id"], message["seq"], message["content"]) == (sent["id"], 1, "hello")
    assert message["edited_at"] is not None
    assert message["timestamp"] == sent["timestamp"]
    [listed] = await answer(await client.get(f"/chats/{chat_id}/messages"))
    assert listed == message
    info = await answer(await client.get(f"/chats/{chat_id}"))
    assert (info["last_seq"], info["last_pos"]) == (1, 2)


async def test_delete_answers_the_deleted_message_and_is_idempotent(
    client: Client, chat_id_for: ChatFactory
) -> None:
    chat_id = await chat_id_for()
    sent = await send(client, chat_id, content="oops")
    await client.put(reaction_path(chat_id, sent["id"], "👍"), json={"user_id": "bob"})
    path = f"/chats/{chat_id}/messages/{sent['id']}?user_id=alice"
    deleted = await answer(await client.delete(path))
    again = await answer(await client.delete(path))
    assert deleted == again
    assert deleted["status"] == "message_deleted"
    gone = deleted["message"]
    assert (gone["deleted"], gone["content"], gone["reactions"]) == (True, "", {})
    assert {k: gone[k] for k in ("id", "seq", "user_id", "timestamp")} == {
        k: sent[k] for k in ("id", "seq", "user_id", "timestamp")
    }
    info = await answer(await client.get(f"/chats/{chat_id}"))
    assert info["last_pos"] == 3  # the repeated delete logged nothing


async def test_reactions_are_added_and_removed_with_set_semantics(
    client: Client, chat_id_for: ChatFactory
) -> None:
    chat_id = await chat_id_for("alice", "bob")
    message_id = (await send(client, chat_id))["id"]
    thumbs = reaction_path(chat_id, message_id, "👍")
    added = await answer(await client.put(thumbs, json={"user_id": "bob"}))
    assert added == {"status": "reaction_added", "message": added["message"]}
    assert added["message"]["reactions"] == {"👍": ["bob"]}
    await client.put(thumbs, json={"user_id": "alice"})
    await client.put(thumbs, json={"user_id": "bob"})  # already: nothing changes
    party = reaction_path(chat_id, message_id, ":party_parrot:")
    both = await answer(await client.put(party, json={"user_id": "alice"}))
    assert both["message"]["reactions"] == {"👍": ["bob", "alice"], ":party_parrot:": ["alice"]}
    removed = await answer(await client.delete(thumbs + "?user_id=bob"))
    assert removed["status"] == "reaction_removed"
    assert removed["message"]["reactions"] == {"👍": ["alice"], ":party_parrot:": ["alice"]}
    again = await answer(await client.delete(thumbs + "?user_id=bob"))
    assert again["message"] == removed["message"]


async def test_a_reply_names_its_message_and_an_unknown_one_is_422(
    client: Client, chat_id_for: ChatFactory
) -> None:
    chat_id = await chat_id_for()
    other_chat = await chat_id_for()
    original = await send(client, chat_id)
    reply = await send(client, chat_id, "bob", content="re", reply_to=original["id"])
    assert reply["reply_to"] == original["id"]
    elsewhere = await send(client, other_chat)
    for reply_to in ["nope", elsewhere["id"], ""]:
        response = await client.post(
            f"/chats/{chat_id}/messages",
            json={"user_id": "bob", "type": "text", "content": "x", "reply_to": reply_to},
        )
        assert response.status_code == 422, reply_to
        assert "reply_to" in (await response.get_json())["detail"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        # 404: the chat, or the message, is unknown
        ("PATCH", "/chats/nope/messages/{m}", {"user_id": "alice", "content": "x"}, 404),
        ("PATCH", "/chats/{c}/messages/nope", {"user_id": "alice", "content": "x"}, 404),
        ("DELETE", "/chats/{c}/messages/nope?user_id=alice", None, 404),
        ("PUT", "/chats/{c}/messages/nope/reactions/%F0%9F%91%8D", {"user_id": "bob"}, 404),
        ("DELETE", "/chats/nope/messages/{m}/reactions/%F0%9F%91%8D?user_id=bob", None, 404),
        # 403: not the author, or not a participant
        ("PATCH", "/chats/{c}/messages/{m}", {"user_id": "bob", "content": "x"}, 403),
        ("DELETE", "/chats/{c}/messages/{m}?user_id=bob", None, 403),
        ("PATCH", "/chats/{c}/messages/{m}", {"user_id": "eve", "content": "x"}, 403),
        ("PUT", "/chats/{c}/messages/{m}/reactions/%F0%9F%91%8D", {"user_id": "eve"}, 403),
        ("DELETE", "/chats/{c}/messages/{m}/reactions/%F0%9F%91%8D?user_id=eve", None, 403),
        # 422: bad input
        ("PATCH", "/chats/{c}/messages/{m}", {"user_id": "alice", "content": ""}, 422),
        ("PATCH", "/chats/{c}/messages/{m}", {"user_id": "alice", "content": "x" * 1001}, 422),
        ("PATCH", "/chats/{c}/messages/{m}", {"user_id": "alice"}, 422),
        ("PATCH", "/chats/{c}/messages/{m}", {"content": "x"}, 422),
        ("PATCH", "/chats/{c}/messages/{i}", {"user_id": "alice", "content": "x"}, 422),
        ("DELETE", "/chats/{c}/messages/{m}", None, 422),
        ("DELETE", "/chats/{c}/messages/{m}?user_id=", None, 422),
        ("PUT", "/chats/{c}/messages/{m}/reactions/ab", {"user_id": "bob"}, 422),
        (
            "PUT",
            "/chats/{c}/messages/{m}/reactions/%F0%9F%91%8D%F0%9F%91%8D",
            {"user_id": "bob"},
            422,
        ),
        ("PUT", "/chats/{c}/messages/{m}/reactions/%3ANot%20a%20name%3A", {"user_id": "bob"}, 422),
        ("PUT", "/chats/{c}/messages/{m}/reactions/%F0%9F%91%8D", {}, 422),
        ("PUT", "/chats/{c}/messages/{m}/reactions/%F0%9F%91%8D", [1], 422),
        ("DELETE", "/chats/{c}/messages/{m}/reactions/%00?user_id=bob", None, 422),
        # 409: the message is deleted
        ("PATCH", "/chats/{c}/messages/{d}", {"user_id": "alice", "content": "x"}, 409),
        ("PUT", "/chats/{c}/messages/{d}/reactions/%F0%9F%91%8D", {"user_id": "bob"}, 409),
    ],
)
async def test_bad_changes_get_their_status_and_change_nothing(
    client: Client,
    chat_id_for: ChatFactory,
    method: str,
    path: str,
    body: Any,
    status: int,
) -> None:
    chat_id = await chat_id_for("alice", "bob")
    message = await send(client, chat_id)
    image = (await answer(await client.post(
        f"/chats/{chat_id}/messages",
        json={"user_id": "alice", "type": "image", "content": "https://x/y.png"},
    )))["message"]  # fmt: skip
    deleted = await send(client, chat_id)
    await client.delete(f"/chats/{chat_id}/messages/{deleted['id']}?user_id=alice")
    before = await answer(await client.get(f"/chats/{chat_id}/messages"))
    url = path.format(c=chat_id, m=message["id"], i=image["id"], d=deleted["id"])
    kwargs = {} if body is None else {"json": body}
    response = await client.open(url, method=method, **kwargs)
    assert response.status_code == status, await response.get_data()
    assert isinstance((await response.get_json())["detail"], str)
    assert await answer(await client.get(f"/chats/{chat_id}/messages")) == before


async def test_the_bound_on_distinct_reactions_is_a_422(
    client: Client, chat_id_for: ChatFactory
) -> None:
    chat_id = await chat_id_for()
    message_id = (await send(client, chat_id))["id"]
    for emoji in ["👍", "🎉", "😄"]:
        await answer(
            await client.put(reaction_path(chat_id, message_id, emoji), json={"user_id": "bob"})
        )
    response = await client.put(reaction_path(chat_id, message_id, "🔥"), json={"user_id": "bob"})
    body = await answer(response, 422)
    assert "at most 3" in body["detail"]
