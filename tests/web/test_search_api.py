"""``GET /search`` and mentions over REST: the answer's shape, paging, consistency with sends,
edits and deletes, unread mentions in the chat list, and every bad input a 422 (never a 500).

Policy: the app through Quart-Trio's test client (lifespan included), on the memory store and
on a real SQLite file in ``tmp_path``; the bot off. A send's answer is the acknowledgement: a
search right after it must find the message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from chatactors.domain.search_query import MAX_QUERY_CHARS
from chatactors.web.app import create_app
from tests.conftest import make_settings


@pytest.fixture(params=["memory", "sqlite"])
async def client(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Client]:
    settings = make_settings(store=request.param, data_dir=tmp_path, max_search_results=50)
    async with create_app(settings).test_app() as test_app:
        yield test_app.test_client()


async def answer(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, await response.get_data()
    return await response.get_json()


async def new_chat(client: Client, *users: str) -> str:
    created = await answer(await client.post("/chats", json={"participants": list(users)}))
    return str(created["chat_id"])


async def send(client: Client, chat_id: str, user: str, content: str) -> dict[str, Any]:
    body = {"user_id": user, "type": "text", "content": content}
    sent: dict[str, Any] = (
        await answer(await client.post(f"/chats/{chat_id}/messages", json=body))
    )["message"]
    return sent


async def search(client: Client, **query: Any) -> dict[str, Any]:
    found: dict[str, Any] = await answer(await client.get("/search", query_string=query))
    return found


def contents(found: dict[str, Any]) -> list[str]:
    return [hit["message"]["content"] for hit in found["results"]]


async def test_a_sent_message_is_found_at_once_with_its_chat_and_highlights(
    client: Client,
) -> None:
    chat_id = await new_chat(client, "alice", "bob")
    sent = await send(client, chat_id, "bob", "Lunch at the Café? café crème for @alice")
    found = await search(client, user_id="alice", q="CAFE")
    assert found == {
        "results": [{"chat_id": chat_id, "message": sent, "highlights": [[13, 17], [19, 23]]}],
        "next_cursor": None,
    }
    assert sent["mentions"] == ["alice"]
    phrase = await search(client, user_id="alice", q='"café crème"')
    assert phrase["results"][0]["highlights"] == [[19, 29]]


async def test_an_edit_is_found_by_its_new_text_a_delete_never(client: Client) -> None:
    chat_id = await new_chat(client, "alice", "bob")
    first = await send(client, chat_id, "alice", "the harbour at nine")
    await send(client, chat_id, "alice", "harbour gate")
    edited = await answer(
        await client.patch(
            f"/chats/{chat_id}/messages/{first['id']}",
            json={"user_id": "alice", "content": "the station at nine"},
        )
    )
    assert contents(await search(client, user_id="bob", q="harbour")) == ["harbour gate"]
    assert contents(await search(client, user_id="bob", q="station")) == ["the station at nine"]
    assert (await search(client, user_id="bob", q="station"))["results"][0]["message"] == (
        edited["message"]
    )
    await answer(await client.delete(f"/chats/{chat_id}/messages/{first['id']}?user_id=alice"))
    assert contents(await search(client, user_id="bob", q="nine")) == []


async def test_pages_follow_the_cursor_newest_first_and_by_relevance(client: Client) -> None:
    chat_id = await new_chat(client, "alice", "bob")
    for number in range(7):
        await send(client, chat_id, "bob", f"report {number}" + " report" * (number == 3))
    seen: list[str] = []
    cursor: str | None = None
    while True:
        query: dict[str, Any] = {"user_id": "alice", "q": "report", "limit": 3}
        page = await search(client, **query, **({"cursor": cursor} if cursor else {}))
        seen.extend(contents(page))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"report {n}" + " report" * (n == 3) for n in range(6, -1, -1)]
    ranked = await search(client, user_id="alice", q="report", order="relevance", limit=2)
    assert contents(ranked)[0] == "report 3 report"
    rest = await search(
        client, user_id="alice", q="report", order="relevance", limit=10,
        cursor=ranked["next_cursor"],
    )  # fmt: skip
    assert len(rest["results"]) == 5
    assert rest["next_cursor"] is None


async def test_filters_and_other_peoples_chats(client: Client) -> None:
    ours = await new_chat(client, "alice", "bob")
    theirs = await new_chat(client, "bob", "carol")
    await send(client, ours, "bob", "plan from bob")
    await send(client, ours, "alice", "plan from alice")
    await send(client, theirs, "carol", "plan for carol only")
    assert contents(await search(client, user_id="alice", q="plan")) == [
        "plan from alice", "plan from bob",
    ]  # fmt: skip
    assert contents(await search(client, user_id="alice", q="plan", **{"from": "bob"})) == [
        "plan from bob"
    ]
    assert contents(await search(client, user_id="alice", q="plan", chat_id=theirs)) == []
    assert contents(await search(client, user_id="bob", q="plan", chat_id=theirs)) == [
        "plan for carol only"
    ]
    assert contents(await search(client, user_id="alice", q="plan", type="image")) == []


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ({"q": "x"}, "user_id is required"),
        ({"user_id": "alice"}, "q is required"),
        ({"user_id": "alice", "q": ""}, "q is required"),
        ({"user_id": "alice", "q": "*"}, "no words"),
        ({"user_id": "alice", "q": '"" ()'}, "no words"),
        ({"user_id": "alice", "q": "a*"}, "prefix"),
        ({"user_id": "alice", "q": "x" * (MAX_QUERY_CHARS + 1)}, "longer than"),
        ({"user_id": "alice", "q": "x", "limit": 0}, "limit"),
        ({"user_id": "alice", "q": "x", "limit": 51}, "limit"),
        ({"user_id": "alice", "q": "x", "limit": "many"}, "limit"),
        ({"user_id": "alice", "q": "x", "order": "oldest"}, "order"),
        ({"user_id": "alice", "q": "x", "type": "video"}, "type"),
        ({"user_id": "alice", "q": "x", "cursor": "not-a-cursor"}, "cursor"),
        ({"user_id": "alice", "q": "x", "cursor": "bmV3ZXN0Oi0x"}, "cursor"),  # newest:-1
        ({"user_id": "alice", "q": "x", "cursor": "bmV3ZXN0OjM", "order": "relevance"},
         "cursor continues order=newest"),
        ({"user_id": "", "q": "x"}, "user_id"),
        ({"user_id": "alice", "q": "x", "from": ""}, "from"),
    ],
)  # fmt: skip
async def test_bad_queries_are_422_with_a_clear_detail(
    client: Client, query: dict[str, Any], detail: str
) -> None:
    refused = await answer(await client.get("/search", query_string=query), 422)
    assert detail in refused["detail"]


@pytest.mark.parametrize(
    "q", ['"', "NEAR(a b)", "x AND", "OR", "col:x", "^x", "x -y", '"a" * "b', "\\", "'", "%"]
)
async def test_search_engine_syntax_in_q_never_fails(client: Client, q: str) -> None:
    chat_id = await new_chat(client, "alice", "bob")
    await send(client, chat_id, "bob", "a b x y col near or and")
    response = await client.get("/search", query_string={"user_id": "alice", "q": q})
    assert response.status_code in (200, 422), await response.get_data()


async def test_the_chat_list_counts_unread_mentions(client: Client) -> None:
    chat_id = await new_chat(client, "alice", "bob", "carol")
    await send(client, chat_id, "bob", "@alice can you check?")
    await send(client, chat_id, "carol", "@all standup in 5")
    await send(client, chat_id, "bob", "no mention here")

    async def listed(user: str) -> dict[str, Any]:
        (chat,) = await answer(await client.get("/chats", query_string={"user_id": user}))
        return {key: chat[key] for key in ("unread_count", "unread_mentions")}

    assert await listed("alice") == {"unread_count": 3, "unread_mentions": 2}
    assert await listed("bob") == {"unread_count": 1, "unread_mentions": 1}
    assert await listed("carol") == {"unread_count": 2, "unread_mentions": 0}
    await answer(await client.post(f"/chats/{chat_id}/read", json={"user_id": "alice"}))
    assert await listed("alice") == {"unread_count": 0, "unread_mentions": 0}


async def test_search_and_mentions_follow_membership(client: Client) -> None:
    """Removed: nothing of the chat in /search; added: its history from the start. The lines
    that say so are never found, and a mention names only who is in the chat then."""
    chat_id = await new_chat(client, "alice", "bob", "carol")
    await send(client, chat_id, "bob", "the budget is final")
    removed = f"/chats/{chat_id}/participants/carol"
    await answer(await client.delete(removed, query_string={"user_id": "alice"}))
    assert contents(await search(client, user_id="carol", q="budget")) == []
    assert contents(await search(client, user_id="carol", q="budget", chat_id=chat_id)) == []
    gone = await send(client, chat_id, "bob", "budget: @carol @dave")
    assert gone["mentions"] == []
    body = {"user_id": "bob", "participants": ["dave"]}
    await answer(await client.post(f"/chats/{chat_id}/participants", json=body))
    history = ["budget: @carol @dave", "the budget is final"]
    assert contents(await search(client, user_id="dave", q="budget")) == history
    assert (await send(client, chat_id, "alice", "@dave @carol hi"))["mentions"] == ["dave"]
    for user in ("alice", "dave"):
        for q in ("removed", "added"):
            assert contents(await search(client, user_id=user, q=q)) == [], (user, q)
