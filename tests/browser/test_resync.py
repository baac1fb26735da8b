"""Coming back after missing more than the server will replay: `resync`, then REST."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import Server, SocketCutter, UserFactory
from .helpers import keys_are_unique, open_chat, post_message, rest, row

pytestmark = pytest.mark.browser

# A tiny replay limit, and no bot, so the counts below are exact.
SERVER_EXTRA_ARGS = ["--max-replay", "3", "--no-bot-enabled"]


def test_long_outage_resyncs_over_rest(server: Server, open_user: UserFactory) -> None:
    open_chat_id = rest(server, "POST", "/chats", {"participants": ["erin", "frank"]})["chat_id"]
    other_chat_id = rest(server, "POST", "/chats", {"participants": ["erin", "grace"]})["chat_id"]
    post_message(server, open_chat_id, "frank", "first")

    cutter = SocketCutter()
    erin = open_user("erin", before_goto=cutter.install)
    open_chat(erin, open_chat_id)
    expect(row(erin, "first")).to_have_count(1)

    cutter.cut()
    expect(erin.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    for i in range(1, 9):
        post_message(server, open_chat_id, "frank", f"missed {i}")
    for i in range(1, 6):
        post_message(server, other_chat_id, "grace", f"grace {i}")

    frames_before = len(cutter.frames)
    cutter.restore()
    # More than 3 missed: the server answers the resume with a resync for that chat, and the
    # client refetches over REST.
    for i in range(1, 9):
        expect(row(erin, f"missed {i}")).to_have_count(1, timeout=20_000)
    expect(row(erin, "first")).to_have_count(1)
    keys_are_unique(erin)
    expect(erin.locator("#connection")).to_have_attribute("data-state", "online")
    assert any('"event":"resync"' in f for f in cutter.frames[frames_before:])

    # The chat in the background shows the right preview and unread count.
    other = erin.locator(f'.chat-item[data-chat-id="{other_chat_id}"]')
    expect(other).to_contain_text("grace 5")
    expect(other.locator(".badge")).to_have_text("5")

    # And live messages flow again on the same socket, once each.
    post_message(server, open_chat_id, "frank", "live again")
    expect(row(erin, "live again")).to_have_count(1)
    keys_are_unique(erin)

    # Opening it shows where the unread messages start, then they are read: grace, watching
    # her messages, sees them turn read.
    grace = open_user("grace")
    open_chat(grace, other_chat_id)
    expect(row(grace, "grace 5")).to_have_attribute("data-status", "sent")
    open_chat(erin, other_chat_id)
    expect(erin.locator(".unread-line")).to_have_text("5 unread messages")
    expect(erin.locator("#messages > *").nth(1)).to_have_class("unread-line")  # after the day
    expect(other.locator(".badge")).to_have_count(0)
    expect(row(grace, "grace 5")).to_have_attribute("data-status", "read")
    reads = rest(server, "GET", f"/chats/{other_chat_id}/read")
    assert reads["read_seqs"]["erin"] == 5
