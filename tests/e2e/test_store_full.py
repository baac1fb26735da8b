"""A full disk, served: POST answers 503 with Retry-After, /readyz says not ready, subscribed
sockets stay open, and the chat works again once space is back.

Policy: see ``conftest.py``; the store is the app's real SQLite file, made full with
``PRAGMA max_page_count`` on its writer connection.
"""

from __future__ import annotations

from pathlib import Path

from chatactors.storage.sqlite import SqliteStore
from chatactors.web.services import services_of
from tests.actors.full_disk import BIG, fill_up, free_up

from .conftest import e2e_settings
from .served import is_event, next_event, serving


async def test_full_disk_is_a_503_and_the_chat_and_its_sockets_live_on(tmp_path: Path) -> None:
    async with serving(e2e_settings(tmp_path)) as server:
        running = services_of(server.app)
        assert running is not None
        store = running.store
        assert isinstance(store, SqliteStore)
        chat_id = await server.new_chat("alice", "bob")
        async with server.socket(f"/ws/{chat_id}?user_id=bob") as bob:
            await next_event(bob, is_event("presence_updated", user_id="bob", status="online"))
            await fill_up(store)

            body = {"user_id": "alice", "type": "text", "content": BIG}
            refused = await server.http.post(f"/chats/{chat_id}/messages", json=body)
            assert refused.status_code == 503
            assert int(refused.headers["Retry-After"]) >= 1
            assert "detail" in refused.json()
            assert (await server.http.get("/readyz")).status_code == 503
            listed = await server.http.get(f"/chats/{chat_id}/messages")
            assert listed.json() == []  # nothing acknowledged, nothing stored

            await free_up(store)
            assert (await server.http.get("/readyz")).status_code == 200
            sent = await server.post(chat_id, "alice", BIG)
            assert sent["seq"] == 1
            # The socket subscribed before the failure is still open and receives it.
            event = await next_event(bob, is_event("message_received"))
            assert event["data"] == sent
