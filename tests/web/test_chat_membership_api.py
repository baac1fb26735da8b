"""REST for chats that change: titles, members added and removed, and access that follows
membership; every rule's answer (403/404/422, never 500) and the shapes of docs/API.md.

Policy: the app through Quart-Trio's test client (lifespan included), the bot off so that it
takes no log positions unless a test asks for it.
"""

from __future__ import annotations

from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from chatactors.settings import Settings
from tests.conftest import make_settings


@pytest.fixture
def app_settings() -> Settings:
    return make_settings(bot_enabled=False, max_participants=5, max_title_chars=20)


async def answer(response: Any, status: int = 200) -> Any:
    """The JSON body of ``response``, which must have ``status``."""
    assert response.status_code == status, await response.get_data()
    return await response.get_json()


async def create(client: Client, *people: str, **extra: Any) -> dict[str, Any]:
    body = {"participants": list(people or ("alice", "bob", "carol")), **extra}
    created: dict[str, Any] = await answer(await client.post("/chats", json=body))
    return created


async def send(client: Client, chat_id: str, user: str, content: str = "hi") -> dict[str, Any]:
    body = {"user_id": user, "type": "text", "content": content}
    sent: dict[str, Any] = (
        await answer(await client.post(f"/chats/{chat_id}/messages", json=body))
    )["message"]
    return sent


async def title(client: Client, chat_id: str, user: str, new: Any, status: int = 200) -> Any:
    body = {"user_id": user, "title": new}
    return await answer(await client.patch(f"/chats/{chat_id}", json=body), status)


async def add(client: Client, chat_id: str, user: str, *people: Any, status: int = 200) -> Any:
    body = {"user_id": user, "participants": list(people)}
    return await answer(await client.post(f"/chats/{chat_id}/participants", json=body), status)


async def remove(client: Client, chat_id: str, user: str, member: str, status: int = 200) -> Any:
    path = f"/chats/{chat_id}/participants/{member}?user_id={user}"
    return await answer(await client.delete(path), status)


# -- creating and naming -----------------------------------------------------------------------


async def test_a_chat_is_created_with_a_title_a_kind_and_its_creator(client: Client) -> None:
    titled = await create(client, "alice", "bob", title="Plans")
    assert titled == {
        "chat_id": titled["chat_id"], "participants": ["alice", "bob"], "title": "Plans",
        "kind": "group", "created_by": "alice", "admin": "alice",
    }  # fmt: skip
    direct = await create(client, "alice", "bob")
    group = await create(client, "alice", "bob", group=True, user_id="bob")
    assert (direct["kind"], direct["title"]) == ("direct", None)
    assert (group["kind"], group["created_by"]) == ("group", "bob")
    info = await answer(await client.get(f"/chats/{titled['chat_id']}"))
    assert {k: info[k] for k in ("title", "kind", "created_by", "admin")} == {
        "title": "Plans", "kind": "group", "created_by": "alice", "admin": "alice",
    }  # fmt: skip
    listed = await answer(await client.get("/chats"))
    assert [c["title"] for c in listed] == ["Plans", None, None]
    mine = await answer(await client.get("/chats?user_id=bob"))
    assert {c["chat_id"]: c["kind"] for c in mine} == {
        titled["chat_id"]: "group", direct["chat_id"]: "direct", group["chat_id"]: "group",
    }  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [
        {"participants": ["alice", "bob"], "title": ""},
        {"participants": ["alice", "bob"], "title": "x" * 21},
        {"participants": ["alice", "bob"], "title": "a\nb"},
        {"participants": ["alice", "bob"], "title": 5},
        {"participants": ["alice", "bob"], "group": "yes"},
        {"participants": ["alice", "bob"], "user_id": "carol"},
    ],
)
async def test_a_bad_new_chat_is_422(client: Client, body: dict[str, Any]) -> None:
    await answer(await client.post("/chats", json=body), 422)
    assert await answer(await client.get("/chats")) == []


async def test_any_participant_names_the_chat_and_null_clears_it(client: Client) -> None:
    chat_id = (await create(client))["chat_id"]
    named = await title(client, chat_id, "carol", "Team")
    assert named["status"] == "chat_updated"
    assert named["chat"]["title"] == "Team"
    assert (named["chat"]["last_seq"], named["chat"]["last_pos"]) == (1, 1)
    message = named["message"]
    assert {k: message[k] for k in ("seq", "user_id", "type", "content", "system")} == {
        "seq": 1, "user_id": "carol", "type": "text", "content": "carol named the chat “Team”",
        "system": {"action": "title_changed", "by": "carol", "users": [], "title": "Team"},
    }  # fmt: skip
    again = await title(client, chat_id, "bob", "Team")
    assert (again["message"], again["chat"]["last_pos"]) == (None, 1)
    cleared = await title(client, chat_id, "bob", None)
    assert cleared["chat"]["title"] is None
    assert cleared["message"]["system"]["title"] is None
    assert (await answer(await client.get(f"/chats/{chat_id}")))["title"] is None


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"user_id": "alice"}, 422),  # the title key is required (null clears)
        ({"title": "x"}, 422),
        ({"user_id": "alice", "title": ""}, 422),
        ({"user_id": "alice", "title": "   "}, 422),
        ({"user_id": "alice", "title": "x" * 21}, 422),
        ({"user_id": "alice", "title": ["x"]}, 422),
        ({"user_id": "", "title": "x"}, 422),
        ({"user_id": "eve", "title": "x"}, 403),
    ],
)
async def test_a_bad_title_change_is_refused_and_changes_nothing(
    client: Client, body: dict[str, Any], status: int
) -> None:
    chat_id = (await create(client))["chat_id"]
    await answer(await client.patch(f"/chats/{chat_id}", json=body), status)
    info = await answer(await client.get(f"/chats/{chat_id}"))
    assert (info["title"], info["last_pos"]) == (None, 0)


async def test_an_unknown_chat_is_404_for_every_change(client: Client) -> None:
    await title(client, "nope", "alice", "x", status=404)
    await add(client, "nope", "alice", "bob", status=404)
    await remove(client, "nope", "alice", "bob", status=404)


# -- adding --------------------------------------------------------------------------------------


async def test_any_participant_adds_people_who_then_read_the_history_from_the_start(
    client: Client,
) -> None:
    chat_id = (await create(client))["chat_id"]
    first = await send(client, chat_id, "alice", "before dave")
    added = await add(client, chat_id, "bob", "dave", "alice", "bot_user", "dave")
    assert added["status"] == "participants_added"
    assert added["chat"]["participants"] == ["alice", "bob", "carol", "dave", "bot_user"]
    assert added["message"]["system"] == {
        "action": "members_added", "by": "bob", "users": ["dave"], "title": None,
    }  # fmt: skip
    assert added["message"]["content"] == "bob added dave"
    history = await answer(await client.get(f"/chats/{chat_id}/messages?user_id=dave"))
    assert [m["id"] for m in history] == [first["id"], added["message"]["id"]]
    [davids] = await answer(await client.get("/chats?user_id=dave"))
    assert davids["chat_id"] == chat_id
    assert davids["unread_count"] == 0  # read up to the message that added him
    assert davids["last_message"] == added["message"]
    await send(client, chat_id, "dave", "hello all")
    read = await answer(await client.get(f"/chats/{chat_id}/read"))
    assert read["read_seqs"]["dave"] == added["message"]["seq"]
    presence = await answer(await client.get(f"/chats/{chat_id}/presence"))
    assert [p["user_id"] for p in presence] == ["alice", "bob", "carol", "dave", "bot_user"]
    nothing = await add(client, chat_id, "alice", "dave")
    assert nothing["message"] is None


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"user_id": "alice", "participants": []}, 422),
        ({"user_id": "alice", "participants": "dave"}, 422),
        ({"user_id": "alice", "participants": [""]}, 422),
        ({"user_id": "alice", "participants": ["x" * 200]}, 422),
        ({"user_id": "alice", "participants": ["a\u0000b"]}, 422),
        ({"user_id": "alice", "participants": [7]}, 422),
        ({"participants": ["dave"]}, 422),
        ({"user_id": "alice", "participants": ["dave", "erin", "frank"]}, 422),  # 6 > 5
        ({"user_id": "eve", "participants": ["eve"]}, 403),
    ],
)
async def test_a_bad_addition_is_refused_and_changes_nothing(
    client: Client, body: dict[str, Any], status: int
) -> None:
    chat_id = (await create(client))["chat_id"]
    await answer(await client.post(f"/chats/{chat_id}/participants", json=body), status)
    info = await answer(await client.get(f"/chats/{chat_id}"))
    assert (info["participants"], info["last_pos"]) == (["alice", "bob", "carol", "bot_user"], 0)


async def test_a_one_to_one_chat_gains_no_members(client: Client) -> None:
    chat_id = (await create(client, "alice", "bob"))["chat_id"]
    refused = await add(client, chat_id, "alice", "carol", status=422)
    assert "start a group" in refused["detail"]


# -- removing and leaving ------------------------------------------------------------------------


async def test_a_member_leaves_and_the_admin_removes_others(client: Client) -> None:
    chat_id = (await create(client, "alice", "bob", "carol", "dave"))["chat_id"]
    left = await remove(client, chat_id, "bob", "bob")
    assert left["status"] == "participant_removed"
    assert left["message"]["content"] == "bob left"
    assert left["message"]["system"]["action"] == "member_left"
    refused = await remove(client, chat_id, "carol", "dave", status=403)
    assert "admin" in refused["detail"]
    removed = await remove(client, chat_id, "alice", "dave")
    assert removed["message"]["system"] == {
        "action": "member_removed", "by": "alice", "users": ["dave"], "title": None,
    }  # fmt: skip
    assert removed["chat"]["participants"] == ["alice", "carol", "bot_user"]
    await remove(client, chat_id, "alice", "dave", status=404)  # gone already
    await remove(client, chat_id, "alice", "bot_user", status=422)
    await remove(client, chat_id, "alice", "eve", status=404)
    # The creator leaves: the longest-standing member left is the admin now.
    after = await remove(client, chat_id, "alice", "alice")
    assert after["chat"]["admin"] == "carol"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/participants/bob", 422),  # no ?user_id=
        ("/participants/bob?user_id=", 422),
        ("/participants/%00?user_id=alice", 422),
        ("/participants/" + "x" * 200 + "?user_id=alice", 422),
        ("/participants/bob?user_id=eve", 403),
    ],
)
async def test_a_bad_removal_is_refused_and_changes_nothing(
    client: Client, path: str, status: int
) -> None:
    chat_id = (await create(client))["chat_id"]
    await answer(await client.delete(f"/chats/{chat_id}{path}"), status)
    info = await answer(await client.get(f"/chats/{chat_id}"))
    assert info["last_pos"] == 0


async def test_in_a_one_to_one_chat_either_may_leave_but_nobody_is_removed(
    client: Client,
) -> None:
    chat_id = (await create(client, "alice", "bob"))["chat_id"]
    await remove(client, chat_id, "alice", "bob", status=422)
    await remove(client, chat_id, "bob", "bob")


async def test_the_last_human_leaving_leaves_the_chat_to_bot_user_alone(client: Client) -> None:
    chat_id = (await create(client, "alice", "bob"))["chat_id"]
    await send(client, chat_id, "alice")
    await remove(client, chat_id, "alice", "alice")
    gone = await remove(client, chat_id, "bob", "bob")
    assert gone["chat"]["participants"] == ["bot_user"]
    assert gone["chat"]["admin"] is None
    assert await answer(await client.get("/chats?user_id=bob")) == []
    history = await answer(await client.get(f"/chats/{chat_id}/messages"))
    assert [m["content"] for m in history] == ["hi", "alice left", "bob left"]
    await add(client, chat_id, "bob", "bob", status=403)


# -- access follows membership ---------------------------------------------------------------


async def test_a_removed_member_gets_403_on_every_route_of_the_chat(client: Client) -> None:
    chat_id = (await create(client))["chat_id"]
    theirs = await send(client, chat_id, "bob", "mine")
    await remove(client, chat_id, "alice", "bob")
    base = f"/chats/{chat_id}"
    message = f"{base}/messages/{theirs['id']}"
    refused = [
        await client.post(f"{base}/messages",
                          json={"user_id": "bob", "type": "text", "content": "?"}),
        await client.patch(message, json={"user_id": "bob", "content": "edited"}),
        await client.delete(f"{message}?user_id=bob"),
        await client.put(f"{message}/reactions/%F0%9F%91%8D", json={"user_id": "bob"}),
        await client.delete(f"{message}/reactions/%F0%9F%91%8D?user_id=bob"),
        await client.post(f"{base}/presence", json={"user_id": "bob", "status": "online"}),
        await client.post(f"{base}/read", json={"user_id": "bob"}),
        await client.get(f"{base}?user_id=bob"),
        await client.get(f"{base}/messages?user_id=bob"),
        await client.get(f"{base}/presence?user_id=bob"),
        await client.get(f"{base}/read?user_id=bob"),
        await client.patch(base, json={"user_id": "bob", "title": "mine"}),
        await client.post(f"{base}/participants", json={"user_id": "bob", "participants": ["bob"]}),
        await client.delete(f"{base}/participants/bob?user_id=bob"),
        await client.delete(f"{base}/participants/carol?user_id=bob"),
    ]  # fmt: skip
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert await answer(await client.get("/chats?user_id=bob")) == []
    presence = await answer(await client.get(f"{base}/presence"))
    assert "bob" not in [p["user_id"] for p in presence]
    assert "bob" not in (await answer(await client.get(f"{base}/read")))["read_receipts"]
    # Their history stays the chat's: what they wrote, and the line that removed them.
    history = await answer(await client.get(f"{base}/messages?user_id=alice"))
    assert [m["content"] for m in history] == ["mine", "alice removed bob"]


async def test_a_reference_client_reads_system_messages_as_text(client: Client) -> None:
    """A client that knows only text, image and audio sees each change as a text message from
    whoever made it, saying what happened."""
    chat_id = (await create(client))["chat_id"]
    await title(client, chat_id, "alice", "Team")
    await add(client, chat_id, "alice", "dave", "erin")
    await remove(client, chat_id, "alice", "erin")
    history = await answer(await client.get(f"/chats/{chat_id}/messages"))
    assert [(m["type"], m["user_id"], m["content"]) for m in history] == [
        ("text", "alice", "alice named the chat “Team”"),
        ("text", "alice", "alice added dave and erin"),
        ("text", "alice", "alice removed erin"),
    ]
    assert all({"id", "seq", "timestamp"} <= m.keys() for m in history)


async def test_a_system_message_is_neither_edited_nor_deleted(client: Client) -> None:
    chat_id = (await create(client))["chat_id"]
    system = (await title(client, chat_id, "alice", "Team"))["message"]
    path = f"/chats/{chat_id}/messages/{system['id']}"
    await answer(await client.patch(path, json={"user_id": "alice", "content": "x"}), 422)
    await answer(await client.delete(f"{path}?user_id=alice"), 422)


@pytest.mark.parametrize("app_settings", [make_settings(bot_enabled=True)])
async def test_bot_user_stays_in_every_chat(client: Client) -> None:
    chat_id = (await create(client))["chat_id"]
    refused = await remove(client, chat_id, "alice", "bot_user", status=422)
    assert "bot_user" in refused["detail"]
    await remove(client, chat_id, "alice", "bob")
    info = await answer(await client.get(f"/chats/{chat_id}"))
    assert info["participants"][-1] == "bot_user"
