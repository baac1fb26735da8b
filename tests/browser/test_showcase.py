"""The screens of the README: a lively group chat, light on a desktop and dark on a phone.

The conversation is set up over REST (no bot, so it is always the same), with a reply,
reactions and an edit; the test checks what the screenshots show, and writes them to
artifacts/screenshots/showcase-*.png.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any
from urllib.parse import quote, urlparse

import pytest
from playwright.sync_api import expect

from .conftest import Server, UserFactory, screenshot
from .helpers import open_chat, rest, row
from .media_files import png, wav

pytestmark = pytest.mark.browser

SERVER_EXTRA_ARGS = ["--no-bot-enabled"]


def upload(server: Server, data: bytes, content_type: str) -> str:
    """POST /media with raw bytes; answers the file's path on this server."""
    request = urllib.request.Request(
        server.url + "/media", data=data, method="POST", headers={"Content-Type": content_type}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        url: str = json.loads(response.read())["url"]
    return urlparse(url).path


def say(
    server: Server, chat_id: str, user: str, content: str, kind: str = "text", **extra: Any
) -> str:
    """Post a message; answers its id."""
    body = {"user_id": user, "type": kind, "content": content, **extra}
    message_id: str = rest(server, "POST", f"/chats/{chat_id}/messages", body)["message"]["id"]
    return message_id


def react(server: Server, chat_id: str, message_id: str, user: str, emoji: str) -> None:
    path = f"/chats/{chat_id}/messages/{message_id}/reactions/{quote(emoji)}"
    rest(server, "PUT", path, {"user_id": user})


def test_showcase_screens(server: Server, open_user: UserFactory) -> None:
    group = rest(server, "POST", "/chats", {"participants": ["maya", "leo", "sam"]})["chat_id"]
    with_leo = rest(server, "POST", "/chats", {"participants": ["maya", "leo"]})["chat_id"]
    with_sam = rest(server, "POST", "/chats", {"participants": ["maya", "sam"]})["chat_id"]
    picture = upload(server, png(480, 300), "image/png")
    voice = upload(server, wav(seconds=7.0), "audio/wav")

    say(server, with_leo, "leo", "Lunch at 1?")
    say(server, with_leo, "maya", "Perfect, see you there")
    say(server, group, "leo", "Morning! The new onboarding screens are ready for review.")
    say(server, group, "leo", "Preview: https://example.com/onboarding")
    image_id = say(server, group, "sam", picture, "image")
    colours = say(server, group, "sam", "Colours are from the old palette.")
    great = say(server, group, "maya", "Looks great! The gradient on the header is lovely.")
    shadow = say(server, group, "maya", "Could we try a softer shadow on the cards?")
    say(server, group, "leo", voice, "audio")
    say(server, group, "leo", "Sure. My notes are in the voice message.", reply_to=shadow)
    rest(
        server,
        "PATCH",
        f"/chats/{group}/messages/{colours}",
        {"user_id": "sam", "content": "Colours are from the new palette, dark mode included."},
    )
    for user, emoji in [("leo", "❤️"), ("maya", "❤️"), ("maya", "😮")]:
        react(server, group, image_id, user, emoji)
    react(server, group, great, "sam", "👍")
    say(server, with_sam, "sam", "Do you have the slides for tomorrow?")
    say(server, with_sam, "sam", "No rush, tonight is fine")

    rest(server, "POST", f"/chats/{group}/read", {"user_id": "maya"})
    maya = open_user("maya")
    open_chat(maya, group)
    rest(server, "POST", f"/chats/{group}/read", {"user_id": "leo"})
    rest(server, "POST", f"/chats/{group}/read", {"user_id": "sam"})
    rest(server, "POST", f"/chats/{group}/presence", {"user_id": "sam", "status": "online"})
    rest(server, "POST", f"/chats/{group}/presence", {"user_id": "leo", "status": "typing"})

    expect(row(maya, "softer shadow")).to_have_attribute("data-status", "read")
    notes = row(maya, "My notes are in the voice message")
    expect(notes.locator(".quote")).to_contain_text("Could we try a softer shadow on the cards?")
    expect(row(maya, "new palette").locator(".edited")).to_be_visible()
    picture_row = maya.locator('#messages .row[data-type="image"]')
    expect(picture_row.locator(".reaction")).to_have_text(["❤️2", "😮1"])
    expect(row(maya, "Looks great!").locator(".reaction")).to_have_text("👍1")
    expect(maya.locator("#typing")).to_contain_text("leo is typing")
    expect(maya.locator("#messages .image-btn.loaded img")).to_have_js_property("naturalWidth", 480)
    expect(maya.locator('#messages .row[data-type="audio"] .audio-time')).to_have_text("0:07")
    sam_item = maya.locator(f'.chat-item[data-chat-id="{with_sam}"]')
    expect(sam_item.locator(".badge")).to_have_text("2")
    expect(maya.locator(f'.chat-item[data-chat-id="{with_leo}"]')).to_contain_text("Perfect")
    maya.mouse.move(0, 0)
    screenshot(maya, "showcase-light-desktop")

    phone = open_user("maya", color_scheme="dark", viewport={"width": 390, "height": 844})
    open_chat(phone, group)
    expect(phone.locator("#messages .image-btn.loaded")).to_be_visible()
    expect(phone.locator('#messages .row[data-type="audio"] .audio-time')).to_have_text("0:07")
    phone.locator("#scroller").evaluate("el => el.scrollTop = el.scrollHeight")
    phone.mouse.move(0, 0)  # no message under the pointer: no hover button in the picture
    screenshot(phone, "showcase-dark-phone")

    phone.get_by_role("button", name="Back to chats").click()
    expect(phone.locator(f'.chat-item[data-chat-id="{with_sam}"] .badge')).to_have_text("2")
    screenshot(phone, "showcase-dark-phone-list")
