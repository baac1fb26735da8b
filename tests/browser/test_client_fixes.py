"""Issue 12 item 16: what probing with the web client found, each fixed and checked here."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import Server, SocketCutter, UserFactory, screenshot
from .helpers import new_chat, open_chat, post_message, rest, row

pytestmark = pytest.mark.browser


def test_new_chat_with_my_one_to_one_partner_opens_the_existing_chat(
    server: Server, open_user: UserFactory
) -> None:
    alice = open_user("ivy")
    first = new_chat(alice, "jack")
    group = new_chat(alice, "jack", "kim")
    assert group != first
    # Again with jack alone: the one-to-one chat opens, no twin is created.
    again = new_chat(alice, "jack")
    assert again == first
    expect(alice.locator("#chat-title")).to_have_text("jack")
    mine = rest(server, "GET", "/chats?user_id=ivy")
    assert sorted(c["chat_id"] for c in mine) == sorted([first, group]), mine


def test_presence_dots_turn_grey_while_disconnected(server: Server, open_user: UserFactory) -> None:
    cutter = SocketCutter()
    alice = open_user("lena", before_goto=cutter.install)
    chat_id = new_chat(alice, "max")
    open_user("max")
    item_dot = alice.locator(f'.chat-item[data-chat-id="{chat_id}"] .presence-dot')
    header_dot = alice.locator(".chat-header .presence-dot")
    expect(item_dot).to_have_class("presence-dot online")
    expect(header_dot).to_have_class("presence-dot online")

    cutter.cut()
    expect(alice.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    expect(item_dot).to_have_class("presence-dot stale")
    expect(header_dot).to_have_class("presence-dot stale")
    grey = item_dot.evaluate("el => getComputedStyle(el).backgroundColor")
    assert grey != "rgb(37, 211, 102)", grey  # not the green of "online"

    cutter.restore()
    expect(alice.locator("#connection")).to_have_attribute("data-state", "online", timeout=20_000)
    expect(item_dot).to_have_class("presence-dot online")


def test_last_seen_only_for_someone_really_seen(server: Server, open_user: UserFactory) -> None:
    alice = open_user("nina")
    never = new_chat(alice, "oscar")  # oscar never connects
    expect(alice.locator("#chat-subtitle")).to_have_text("offline")
    expect(alice.locator("#chat-subtitle")).not_to_contain_text("last seen")

    # Someone who was here and left: "last seen".
    seen = new_chat(alice, "paul")
    paul = open_user("paul")
    expect(alice.locator("#chat-subtitle")).to_have_text("online")
    paul.context.close()
    # After the server's presence grace (default 5 s): longer than the usual wait.
    expect(alice.locator("#chat-subtitle")).to_contain_text("last seen today at", timeout=20_000)
    open_chat(alice, never)
    expect(alice.locator("#chat-subtitle")).to_have_text("offline")
    assert seen != never


def test_refused_image_url_shows_a_clean_placeholder(
    server: Server, open_user: UserFactory
) -> None:
    alice = open_user("quinn")
    chat_id = new_chat(alice, "rosa")
    post_message(server, chat_id, "rosa", "javascript:alert(1)", "image")
    bubble = row(alice, "Image unavailable")
    expect(bubble).to_have_count(1)
    expect(bubble.locator("img")).to_have_count(0)
    # Both boxes from one layout: the row slides in (``.row.appear``), so two separate
    # measurements may straddle a frame of that animation.
    placeholder, badge = bubble.evaluate(
        """row => [...row.querySelectorAll("span")]
            .filter(span => !span.children.length && span.textContent === "Image unavailable")
            .concat([row.querySelector(".meta")])
            .map(element => element.getBoundingClientRect().toJSON())"""
    )
    # The time sits below the placeholder, not over its text.
    assert badge["y"] >= placeholder["y"] + placeholder["height"] - 1, (placeholder, badge)
    screenshot(alice, "desktop-light-refused-image")
