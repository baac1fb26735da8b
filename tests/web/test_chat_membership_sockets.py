"""Sockets of chats that change: ``chat_updated`` over ``chatactors.v1`` and ``/ws`` only, the
added user's ``/ws`` announced the chat, and a removed user's sockets: their per-chat sockets
closed with 4403 after the line that removed them, their ``/ws`` told ``chat_removed`` and kept
open without that chat.

Policy: the app in process over ASGI events (tests/harness/asgi_socket.py, the transport Hypercorn
drives), Trio's real clock with every wait bounded; a marker message posted last shows that
nothing else came before it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import pytest
import trio.testing
from quart.typing import TestClientProtocol as Client

from chatactors.domain.ids import UserId
from chatactors.domain.models import ChatSummary
from chatactors.settings import Settings
from chatactors.storage.memory import MemoryStore
from chatactors.web.app import create_app
from tests.conftest import make_settings
from tests.harness.asgi_socket import AsgiTestSocket, open_socket

V1 = ("chatactors.v1",)
Event = dict[str, Any]


@pytest.fixture
def app_settings() -> Settings:
    return make_settings(bot_enabled=False, presence_grace_s=0)


class Reader:
    """Events of one socket in order: array frames (v1, /ws) or one event per frame."""

    def __init__(self, ws: AsgiTestSocket) -> None:
        self.ws = ws
        self._queued: list[Event] = []

    async def next(self) -> Event:
        while not self._queued:
            frame = await self.ws.receive_json()
            self._queued.extend(frame if isinstance(frame, list) else [frame])
        return self._queued.pop(0)

    async def until(self, content: str) -> list[Event]:
        """Every event up to the message ``content`` (included)."""
        return await self.until_event(
            lambda e: e["event"] == "message_received" and e["data"]["content"] == content
        )

    async def until_event(self, last: Callable[[Event], bool]) -> list[Event]:
        events = []
        while True:
            event = await self.next()
            events.append(event)
            if last(event):
                return events


def names(events: list[Event]) -> list[str]:
    """What each event is: its name, with a message's content."""
    return [
        f"message:{e['data']['content']}" if e["event"] == "message_received" else e["event"]
        for e in events
        if e["event"] != "presence_updated"
    ]


@pytest.fixture
def chat_of(client: Client) -> Callable[..., Awaitable[str]]:
    async def create(*people: str) -> str:
        body = {"participants": list(people or ("alice", "bob", "carol"))}
        response = await client.post("/chats", json=body)
        assert response.status_code == 200
        chat_id: str = (await response.get_json())["chat_id"]
        return chat_id

    return create


async def post(client: Client, chat_id: str, user: str, content: str) -> None:
    body = {"user_id": user, "type": "text", "content": content}
    assert (await client.post(f"/chats/{chat_id}/messages", json=body)).status_code == 200


async def remove(client: Client, chat_id: str, user: str, member: str) -> None:
    path = f"/chats/{chat_id}/participants/{member}?user_id={user}"
    assert (await client.delete(path)).status_code == 200


async def add(client: Client, chat_id: str, user: str, *people: str) -> None:
    body = {"user_id": user, "participants": list(people)}
    response = await client.post(f"/chats/{chat_id}/participants", json=body)
    assert response.status_code == 200


async def test_a_removed_users_chat_sockets_close_with_4403_after_the_line(
    client: Client, chat_of: Callable[..., Awaitable[str]]
) -> None:
    chat_id = await chat_of()
    async with (
        open_socket(client.app, f"/ws/{chat_id}?user_id=bob") as bob_reference,
        open_socket(client.app, f"/ws/{chat_id}?user_id=bob", subprotocols=V1) as bob_v1,
        open_socket(client.app, f"/ws/{chat_id}?user_id=alice", subprotocols=V1) as alice,
        open_socket(client.app, f"/ws/{chat_id}") as anonymous,
    ):
        await trio.testing.wait_all_tasks_blocked()
        await remove(client, chat_id, "alice", "bob")
        await post(client, chat_id, "alice", "after bob")
        bob_events = Reader(bob_reference)
        line = await bob_events.next()
        while line["event"] == "presence_updated":
            line = await bob_events.next()
        assert (line["event"], line["data"]["content"]) == ("message_received", "alice removed bob")
        assert await bob_reference.close_code() == 4403
        assert await bob_v1.close_code() == 4403
        # The others stay, and get the change: v1 as chat_updated, a reference socket not.
        seen = names(await Reader(alice).until("after bob"))
        assert seen == ["subscribed", "message:alice removed bob", "chat_updated",
                        "message:after bob"]  # fmt: skip
        assert names(await Reader(anonymous).until("after bob")) == [
            "message:alice removed bob", "message:after bob",
        ]  # fmt: skip
    async with open_socket(client.app, f"/ws/{chat_id}?user_id=bob", subprotocols=V1) as again:
        assert await again.close_code() == 4403


async def test_chat_updated_carries_the_chat_and_the_change_on_v1(
    client: Client, chat_of: Callable[..., Awaitable[str]]
) -> None:
    chat_id = await chat_of()
    async with open_socket(client.app, f"/ws/{chat_id}?user_id=carol", subprotocols=V1) as ws:
        reader = Reader(ws)
        assert (await reader.next())["event"] == "subscribed"
        response = await client.patch(f"/chats/{chat_id}", json={"user_id": "bob", "title": "T"})
        assert response.status_code == 200
        events = await reader.until_event(lambda e: e["event"] == "chat_updated")
    line, updated = [e for e in events if e["event"] != "presence_updated"]
    assert line["event"] == "message_received"
    assert line["data"]["system"] == {"action": "title_changed", "by": "bob", "users": [],
                                      "title": "T"}  # fmt: skip
    assert line["pos"] == 1
    assert updated["event"] == "chat_updated"
    assert "pos" not in updated  # not a log entry: the line above is
    assert updated["data"] == {
        "chat_id": chat_id, "participants": ["alice", "bob", "carol", "bot_user"],
        "created_at": updated["data"]["created_at"], "title": "T", "kind": "group",
        "created_by": "alice", "admin": "alice", "change": line["data"]["system"],
    }  # fmt: skip


async def test_a_removed_users_user_socket_drops_the_chat_and_stays_open(
    client: Client, chat_of: Callable[..., Awaitable[str]]
) -> None:
    chat_id, other = await chat_of(), await chat_of("bob", "dave")
    async with open_socket(client.app, "/ws?user_id=bob", subprotocols=V1) as ws:
        bob = Reader(ws)
        ready = await bob.next()
        assert set(ready["data"]["chats"]) == {chat_id, other}
        await remove(client, chat_id, "alice", "bob")
        await post(client, chat_id, "alice", "not for bob")
        await post(client, other, "dave", "still for bob")
        seen = await bob.until("still for bob")
        assert [(e["event"], e["chat_id"]) for e in seen if e["event"] != "presence_updated"] == [
            ("message_received", chat_id),  # alice removed bob
            ("chat_removed", chat_id),
            ("message_received", other),
        ]  # fmt: skip
        assert seen[-2]["data"] == {"chat_id": chat_id}
        # Resuming it answers nothing: the socket does not carry it any more.
        await ws.send(b'{"op": "resume", "ref": "r", "positions": {"%s": {"pos": 0}}}'
                      % chat_id.encode())  # fmt: skip
        ack = await bob.next()
        assert ack["event"] == "ack"
        assert ack["data"] == {"ref": "r", "replayed": {}, "resync": [], "unknown": [chat_id]}
        await ws.send(
            b'{"op": "send", "ref": "s", "chat_id": "%s", "content": "hi"}' % chat_id.encode()
        )
        refused = await bob.next()
        assert (refused["event"], refused["data"]["status"]) == ("error", 403)


async def test_leaving_drops_the_chat_from_ones_own_user_sockets(
    client: Client, chat_of: Callable[..., Awaitable[str]]
) -> None:
    chat_id = await chat_of()
    async with open_socket(client.app, "/ws?user_id=carol") as ws:  # no subprotocol
        carol = Reader(ws)
        assert (await carol.next())["event"] == "ready"
        await client.patch(f"/chats/{chat_id}", json={"user_id": "alice", "title": "T"})
        await remove(client, chat_id, "carol", "carol")
        seen = await carol.until_event(lambda e: e["event"] == "chat_removed")
    # Without a subprotocol: the lines, never chat_updated; and the chat dropped.
    assert names(seen) == ["message:alice named the chat “T”", "message:carol left",
                           "chat_removed"]  # fmt: skip


async def test_an_added_users_user_socket_announces_the_chat_then_carries_it(
    client: Client, chat_of: Callable[..., Awaitable[str]]
) -> None:
    chat_id = await chat_of()
    await post(client, chat_id, "alice", "before dave")
    async with open_socket(client.app, "/ws?user_id=dave", subprotocols=V1) as ws:
        dave = Reader(ws)
        assert (await dave.next())["data"]["chats"] == {}
        await add(client, chat_id, "bob", "dave")
        created = await dave.next()
        assert (created["event"], created["chat_id"]) == ("chat_created", chat_id)
        data = created["data"]
        assert data["participants"] == ["alice", "bob", "carol", "dave", "bot_user"]
        assert data["last_message"]["content"] == "bob added dave"
        assert (data["unread_count"], data["latest_seq"], data["latest_pos"]) == (0, 2, 2)
        await post(client, chat_id, "alice", "welcome")
        # Nothing replayed: the history is read over REST; live from the addition on.
        assert names(await dave.until("welcome")) == ["message:welcome"]
        # Removed and added again: dropped, then announced and carried again.
        await remove(client, chat_id, "alice", "dave")
        await add(client, chat_id, "carol", "dave")
        await post(client, chat_id, "alice", "back")
        assert names(await dave.until("back")) == [
            "message:alice removed dave", "chat_removed", "chat_created", "message:back",
        ]  # fmt: skip


async def test_a_removed_members_presence_disappears_without_an_event(
    client: Client, chat_of: Callable[..., Awaitable[str]]
) -> None:
    chat_id = await chat_of()
    async with open_socket(client.app, f"/ws/{chat_id}?user_id=alice", subprotocols=V1) as ws:
        alice = Reader(ws)
        async with open_socket(client.app, f"/ws/{chat_id}?user_id=bob") as bob:
            await trio.testing.wait_all_tasks_blocked()
            await remove(client, chat_id, "carol", "carol")
            await remove(client, chat_id, "alice", "bob")
            assert await bob.close_code() == 4403
        await trio.testing.wait_all_tasks_blocked()
        await post(client, chat_id, "alice", "marker")
        seen = await alice.until("marker")
        presence = (await client.get(f"/chats/{chat_id}/presence")).get_json()
    # bob came online, then left the chat's presence with his removal: no offline event.
    bobs = [e["data"]["status"] for e in seen
            if e["event"] == "presence_updated" and e["data"]["user_id"] == "bob"]  # fmt: skip
    assert bobs == ["online"]
    assert [p["user_id"] for p in await presence] == ["alice", "bot_user"]


@attrs.define(eq=False)
class _StaleListing(MemoryStore):
    """Lists bob's chats as they were before his removal: the race of a user socket that
    lists its user's chats just before a removal lands, and subscribes just after it."""

    before: list[ChatSummary] = attrs.field(factory=list)

    async def list_user_chats(self, user_id: UserId, *, limit: int) -> list[ChatSummary]:
        listed = await super().list_user_chats(user_id, limit=limit)
        if user_id == "bob" and self.before:
            return self.before
        return listed


async def test_a_user_socket_that_lists_a_chat_just_before_a_removal_skips_it() -> None:
    store = _StaleListing()
    app = create_app(make_settings(bot_enabled=False), store=store)
    async with app.test_app() as test_app:
        client = test_app.test_client()
        created = [
            await (await client.post("/chats", json={"participants": people})).get_json()
            for people in (["alice", "bob", "carol"], ["bob", "dave"])
        ]
        chat_id, other = (chat["chat_id"] for chat in created)
        store.before = await store.list_user_chats(UserId("bob"), limit=10)
        await remove(client, chat_id, "alice", "bob")
        async with open_socket(app, "/ws?user_id=bob", subprotocols=V1) as ws:
            bob = Reader(ws)
            ready = await bob.next()
            assert (ready["event"], set(ready["data"]["chats"])) == ("ready", {other})
            await post(client, other, "dave", "still open")
            assert names(await bob.until("still open")) == ["message:still open"]
