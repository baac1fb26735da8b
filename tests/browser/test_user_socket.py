"""One socket per tab (issue 15): twenty chats, two people, one WebSocket each, no polling;
resume across a server restart."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, WebSocket, expect

from tests.harness.server_process import server_process

from .conftest import Problems, Server, SocketCutter, UserFactory
from .helpers import keys_are_unique, open_chat, post_message, rest, row, send

pytestmark = pytest.mark.browser

CHATS = 20
SERVER_EXTRA_ARGS = ["--no-bot-enabled"]  # exact unread counts


class Traffic:
    """What one page opened: its WebSockets and its `GET /chats` list requests."""

    def __init__(self) -> None:
        self.sockets: list[WebSocket] = []
        self.list_requests: list[str] = []

    def watch(self, page: Page) -> None:
        # Page timers on a fake clock: an hour can pass in the test without waiting for it.
        page.clock.install()
        page.on("websocket", lambda ws: self.sockets.append(ws))
        page.on("request", self._request)

    def _request(self, request: Request) -> None:
        if request.method == "GET" and re.search(r"/chats(\?|$)", request.url):
            self.list_requests.append(request.url)


def test_twenty_chats_one_socket_per_page_and_no_polling(
    server: Server, open_user: UserFactory
) -> None:
    ids = [
        rest(server, "POST", "/chats", {"participants": ["uma", "vic", f"guest{i}"]})["chat_id"]
        for i in range(CHATS)
    ]
    traffic = {"uma": Traffic(), "vic": Traffic()}
    uma = open_user("uma", before_goto=traffic["uma"].watch)
    vic = open_user("vic", before_goto=traffic["vic"].watch)
    for page in (uma, vic):
        expect(page.locator(".chat-item")).to_have_count(CHATS)

    # Live over the one socket: vic writes in one chat, uma's list shows it with a badge.
    open_chat(vic, ids[7])
    send(vic, "hello over one socket")
    item = uma.locator(f'.chat-item[data-chat-id="{ids[7]}"]')
    expect(item).to_contain_text("hello over one socket")
    expect(item.locator(".badge")).to_have_text("1")
    # A chat someone else creates appears at once (chat_created), with its first message.
    new_id = rest(server, "POST", "/chats", {"participants": ["vic", "uma"]})["chat_id"]
    post_message(server, new_id, "vic", "a brand new chat")
    expect(uma.locator(f'.chat-item[data-chat-id="{new_id}"]')).to_contain_text("a brand new chat")
    expect(uma.locator(".chat-item")).to_have_count(CHATS + 1)

    # An hour of page time passes: nothing is polled.
    before = {name: len(t.list_requests) for name, t in traffic.items()}
    for page in (uma, vic):
        page.clock.run_for("01:00:00")
    send(vic, "still live an hour later")
    expect(item).to_contain_text("still live an hour later")
    expect(item.locator(".badge")).to_have_text("2")
    for name, t in traffic.items():
        assert len(t.list_requests) == before[name], (name, t.list_requests)
        assert len(t.list_requests) <= 2, (name, t.list_requests)  # the first load (+ a catch-up)
        assert len(t.sockets) == 1, (name, [s.url for s in t.sockets])
        assert re.search(r"/ws\?", t.sockets[0].url), t.sockets[0].url
        assert not t.sockets[0].is_closed()


def test_resume_after_a_server_restart_without_gap_or_duplicate(
    browser: Browser, problems: Problems, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    cutter = SocketCutter()
    context = browser.new_context(viewport={"width": 1280, "height": 820})
    try:
        page = context.new_page()
        problems.watch(page, "wes")
        cutter.install(page)
        with server_process("--shutdown-timeout-s", "2", data_dir=data_dir) as first:
            port = urlsplit(first.url).port
            chat_id = rest(first, "POST", "/chats", {"participants": ["wes", "xia"]})["chat_id"]
            page.goto(f"{first.url}/?user=wes")
            expect(page.locator("#connection")).to_have_attribute("data-state", "online")
            open_chat(page, chat_id)
            post_message(first, chat_id, "xia", "before the restart")
            expect(row(page, "before the restart")).to_have_count(1)
            cutter.cut()  # the page stays away until the new process has more to replay
        # The first process is gone (SIGTERM); a new one serves the same data on the same port.
        with server_process(
            "--shutdown-timeout-s", "2", "--port", str(port), data_dir=data_dir
        ) as second:
            for i in range(1, 4):
                post_message(second, chat_id, "xia", f"missed {i}")
            sent_before = len(cutter.sent)
            cutter.restore()
            for i in range(1, 4):
                expect(row(page, f"missed {i}")).to_have_count(1, timeout=20_000)
            expect(page.locator("#connection")).to_have_attribute("data-state", "online")
            resume = json.loads(cutter.sent[sent_before])
            assert resume["op"] == "resume", cutter.sent[sent_before:]
            # Replayed from the chat's log position (its one message), not paged.
            assert resume["positions"][chat_id] == {"pos": 1}, resume
            post_message(second, chat_id, "xia", "after the restart")
            expect(row(page, "after the restart")).to_have_count(1)
            expect(row(page, "before the restart")).to_have_count(1)
            keys_are_unique(page)
            texts = page.locator("#messages .row .text").all_inner_texts()
            assert texts == [
                "before the restart",
                "missed 1",
                "missed 2",
                "missed 3",
                "after the restart",
            ], texts
    finally:
        context.close()
