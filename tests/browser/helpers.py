"""Steps shared by the browser tests."""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

from playwright.sync_api import Locator, Page, expect

from .conftest import Server


def rest(server: Server, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """The JSON answer of a REST call."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        server.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def new_chat(page: Page, *people: str) -> str:
    page.get_by_role("button", name="New chat").first.click()
    box = page.get_by_role("textbox", name="Participants")
    for person in people:
        box.fill(person)
        box.press("Enter")
    page.locator("#new-chat-create").click()
    expect(page.locator("#new-chat-dialog")).not_to_be_visible()
    expect(page).to_have_url(re.compile(r"#/chat/.+"))
    return page.url.split("#/chat/")[1]


def open_chat(page: Page, chat_id: str) -> None:
    page.locator(f'.chat-item[data-chat-id="{chat_id}"]').click()
    expect(page.locator("#chat-view")).to_be_visible()


def send(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message", exact=True)
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")


def row(page: Page, text: str) -> Locator:
    """The row of the message whose own content has ``text`` (a quote of it does not count)."""
    return page.locator("#messages .row").filter(has=page.locator(".content", has_text=text))


def keys_are_unique(page: Page) -> None:
    keys = page.locator("#messages .row").evaluate_all("rows => rows.map(r => r.dataset.key)")
    assert len(keys) == len(set(keys)), f"duplicate message rows: {keys}"


def post_message(server: Server, chat_id: str, user: str, content: str, kind: str = "text") -> None:
    """Someone without a page posts a message over REST."""
    body = {"user_id": user, "type": kind, "content": content}
    rest(server, "POST", f"/chats/{chat_id}/messages", body)
