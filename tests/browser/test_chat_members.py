"""Chats that change (issue 24) in the web client: a titled group that gains and loses members,
live for three people in three browser contexts, then the same after a reload; and changes made
while a socket was down, shown after it resumes (whose replay has no ``chat_updated``)."""

from __future__ import annotations

import json
import re
import urllib.error

import pytest
from playwright.sync_api import Locator, Page, expect

from .conftest import Server, SocketCutter, UserFactory, screenshot
from .helpers import open_chat, post_message, rest, row, send

pytestmark = pytest.mark.browser

SERVER_EXTRA_ARGS = ["--no-bot-enabled"]  # no bot answers between the lines the tests count

PHONE = {"width": 390, "height": 844}
ONLINE = "window.dispatchEvent(new Event('online'))"  # the browser says the network is back


# ---- steps ---------------------------------------------------------------------------------


def item(page: Page, chat_id: str) -> Locator:
    """The chat's entry in the page's chat list."""
    return page.locator(f'.chat-item[data-chat-id="{chat_id}"]')


def sysline(page: Page, text: str) -> Locator:
    """A system line of the open conversation whose text is exactly ``text``."""
    return page.locator("#messages .sysline").filter(
        has=page.locator(".sysline-text > span").get_by_text(text, exact=True)
    )


def syslines(page: Page) -> Locator:
    return page.locator("#messages .sysline .sysline-text > span")


def open_members(page: Page) -> Locator:
    page.get_by_role("button", name="Members", exact=True).click()
    panel = page.get_by_role("dialog", name="Members")
    expect(panel).to_be_visible()
    return panel


def member(panel: Locator, user: str) -> Locator:
    return panel.locator(f'.member[data-user="{user}"]')


def rename(page: Page, title: str, *, key: str = "Enter") -> None:
    page.get_by_role("button", name="Rename chat").click()
    field = page.get_by_role("textbox", name="Chat title")
    expect(field).to_be_focused()
    field.fill(title)
    field.press(key)
    expect(field).to_be_hidden()


def wait_online(page: Page) -> None:
    expect(page.locator("#connection")).to_have_attribute("data-state", "online", timeout=20_000)


# ---- scenarios -----------------------------------------------------------------------------


def test_a_titled_group_gains_and_loses_members_live_for_all_three(
    server: Server, open_user: UserFactory
) -> None:
    alice = open_user("alice")
    bob = open_user("bob", color_scheme="dark")
    carol = open_user("carol", viewport=PHONE)

    # Alice names a new chat with bob: a group of two, live in bob's list with its title.
    alice.get_by_role("button", name="New chat").first.click()
    alice.get_by_role("textbox", name=re.compile(r"^Name")).fill("Team")
    people = alice.get_by_role("textbox", name="Participants")
    people.fill("bob")
    people.press("Enter")
    expect(alice.locator("#new-chat-create")).to_have_text("Create group (2 people)")
    alice.locator("#new-chat-create").click()
    expect(alice).to_have_url(re.compile(r"#/chat/.+"))
    chat_id = alice.url.split("#/chat/")[1]
    expect(alice.locator("#chat-title")).to_have_text("Team")
    stored = rest(server, "GET", f"/chats/{chat_id}")
    assert (stored["title"], stored["kind"], stored["created_by"]) == ("Team", "group", "alice")
    expect(item(bob, chat_id).locator(".ci-name")).to_have_text("Team")
    send(alice, "welcome to the team")
    open_chat(bob, chat_id)
    expect(row(bob, "welcome to the team")).to_have_count(1)
    expect(item(carol, chat_id)).to_have_count(0)

    # Alice adds carol from the members panel: carol's list shows the chat live, with its history.
    panel = open_members(alice)
    expect(panel.locator(".member")).to_have_count(3)  # alice, bob, the bot
    expect(member(panel, "alice")).to_contain_text("Admin")
    expect(panel.get_by_role("textbox", name="Add people")).to_be_focused()
    panel.get_by_role("textbox", name="Add people").fill("carol")
    panel.get_by_role("button", name="Add", exact=True).click()
    expect(member(panel, "carol")).to_be_visible()
    expect(panel.get_by_role("textbox", name="Add people")).to_have_value("")
    expect(item(carol, chat_id).locator(".ci-name")).to_have_text("Team")
    expect(item(carol, chat_id)).to_contain_text("alice added you")
    screenshot(alice, "members-panel-light-desktop")
    panel.press("Escape")
    expect(panel).to_be_hidden()
    expect(sysline(alice, "You added carol")).to_be_visible()
    expect(sysline(bob, "alice added carol")).to_be_visible()
    expect(bob.locator("#chat-subtitle")).to_contain_text("carol")
    open_chat(carol, chat_id)
    expect(row(carol, "welcome to the team")).to_have_count(1)  # the history from the start
    expect(sysline(carol, "alice added you")).to_be_visible()

    # The title, in place: Escape leaves it, Enter saves it; all three see it and a system line.
    rename(alice, "Oops", key="Escape")
    expect(alice.locator("#chat-title")).to_have_text("Team")
    expect(alice.get_by_role("button", name="Rename chat")).to_be_focused()
    rename(alice, "Team Rocket")
    for page in (alice, bob, carol):
        expect(page.locator("#chat-title")).to_have_text("Team Rocket")
        expect(item(page, chat_id).locator(".ci-name")).to_have_text("Team Rocket")
    expect(sysline(alice, "You renamed the chat to “Team Rocket”")).to_be_visible()
    expect(sysline(bob, "alice renamed the chat to “Team Rocket”")).to_be_visible()
    expect(sysline(carol, "alice renamed the chat to “Team Rocket”")).to_be_visible()
    screenshot(carol, "chat-members-light-phone")

    # Only the admin may remove: carol's panel offers no Remove.
    panel = open_members(carol)
    expect(member(panel, "bob")).to_be_visible()
    expect(panel.get_by_role("button", name=re.compile(r"^Remove"))).to_have_count(0)
    panel.get_by_role("button", name="Close").click()

    # Alice removes bob: his list drops the chat live, his open conversation says why and takes
    # nothing more from him; the server refuses his sends.
    panel = open_members(alice)
    panel.get_by_role("button", name="Remove bob from the chat").click()
    expect(member(panel, "bob")).to_have_count(0)
    panel.press("Escape")
    expect(item(bob, chat_id)).to_have_count(0)
    expect(bob.locator("#gone-text")).to_have_text("alice removed you from this chat.")
    expect(sysline(bob, "alice removed you")).to_be_visible()
    expect(bob.get_by_role("textbox", name="Message", exact=True)).to_be_hidden()
    expect(bob.get_by_role("button", name="Members", exact=True)).to_be_hidden()
    expect(bob.get_by_role("button", name="Rename chat")).to_be_hidden()
    with pytest.raises(urllib.error.HTTPError) as refused:
        post_message(server, chat_id, "bob", "still here?")
    refused.value.close()  # it holds the answer's connection
    assert refused.value.code == 403
    screenshot(bob, "chat-removed-dark-desktop")
    expect(sysline(alice, "You removed bob")).to_be_visible()
    expect(sysline(carol, "alice removed bob")).to_be_visible()
    bob.get_by_role("button", name="Close", exact=True).click()
    expect(bob.locator("#no-chat")).to_be_visible()

    # Carol leaves, after a confirmation (Cancel first keeps her in).
    leave_dialog = carol.get_by_role("dialog", name="Leave “Team Rocket”?")
    open_members(carol).get_by_role("button", name="Leave chat").click()
    expect(leave_dialog).to_be_visible()
    leave_dialog.get_by_role("button", name="Cancel").click()
    expect(leave_dialog).to_be_hidden()
    expect(item(carol, chat_id)).to_have_count(1)
    carol.get_by_role("dialog", name="Members").get_by_role("button", name="Leave chat").click()
    leave_dialog.get_by_role("button", name="Leave", exact=True).click()
    expect(item(carol, chat_id)).to_have_count(0)
    expect(carol.locator("#chat-view")).to_be_hidden()
    expect(carol.locator("#toasts")).to_contain_text("You left “Team Rocket”")
    expect(sysline(alice, "carol left")).to_be_visible()
    expect(alice.locator("#chat-subtitle")).to_have_text("You, Bot")

    # After a reload, the same.
    lines = [
        "You added carol",
        "You renamed the chat to “Team Rocket”",
        "You removed bob",
        "carol left",
    ]
    expect(syslines(alice)).to_have_text(lines)
    for page in (alice, bob, carol):
        page.reload()
        wait_online(page)
    expect(item(alice, chat_id).locator(".ci-name")).to_have_text("Team Rocket")
    expect(item(alice, chat_id)).to_contain_text("carol left")
    expect(alice.locator("#chat-title")).to_have_text("Team Rocket")  # it was open
    expect(syslines(alice)).to_have_text(lines)
    expect(row(alice, "welcome to the team")).to_have_count(1)
    panel = open_members(alice)
    expect(panel.locator(".member")).to_have_count(2)  # alice and the bot
    panel.press("Escape")
    for page in (bob, carol):
        expect(page.locator(".chat-item")).to_have_count(0)
        expect(page.locator("#chat-list-empty")).to_be_visible()


def test_a_one_to_one_chat_offers_to_start_a_group(server: Server, open_user: UserFactory) -> None:
    chat_id = rest(server, "POST", "/chats", {"participants": ["gus", "hal"]})["chat_id"]
    gus = open_user("gus")
    open_chat(gus, chat_id)
    panel = open_members(gus)
    expect(panel).to_contain_text("One-to-one chat")
    expect(panel.get_by_role("textbox", name="Add people")).to_be_hidden()
    panel.get_by_role("button", name="Start a group with hal").click()
    dialog = gus.get_by_role("dialog", name="New chat")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("checkbox", name=re.compile(r"^Group chat"))).to_be_checked()
    expect(dialog.get_by_role("textbox", name=re.compile(r"^Name"))).to_be_focused()
    expect(dialog.locator("#people-chips")).to_contain_text("hal")
    dialog.get_by_role("button", name="Create group (2 people)").click()
    expect(dialog).to_be_hidden()
    expect(gus).not_to_have_url(re.compile(re.escape(chat_id)))  # a new chat, not ours reused
    group = gus.url.split("#/chat/")[1]
    assert rest(server, "GET", f"/chats/{group}")["kind"] == "group"
    expect(gus.locator(".chat-item")).to_have_count(2)
    open_members(gus).get_by_role("textbox", name="Add people").fill("ida")
    gus.get_by_role("button", name="Add", exact=True).click()
    expect(member(gus.get_by_role("dialog", name="Members"), "ida")).to_be_visible()
    expect(gus.locator("#chat-title")).to_have_text("hal, ida")  # untitled: named by its people


def test_changes_while_away_show_after_resuming_and_a_removal_refuses_sends(
    server: Server, open_user: UserFactory
) -> None:
    cutter = SocketCutter()
    body = {"participants": ["dan", "eve"], "title": "Plans", "user_id": "dan"}
    chat_id = rest(server, "POST", "/chats", body)["chat_id"]
    eve = open_user("eve", before_goto=cutter.install)
    open_chat(eve, chat_id)
    expect(eve.locator("#chat-title")).to_have_text("Plans")

    # Renamed and joined by fay while eve's socket is down: the resume replays the system
    # messages (and no chat_updated), from which the header and the panel follow.
    cutter.cut()
    expect(eve.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    rest(server, "PATCH", f"/chats/{chat_id}", {"user_id": "dan", "title": "New plans"})
    added = {"user_id": "dan", "participants": ["fay"]}
    rest(server, "POST", f"/chats/{chat_id}/participants", added)
    frames_before = len(cutter.frames)
    cutter.restore()
    eve.evaluate(ONLINE)
    wait_online(eve)
    expect(eve.locator("#chat-title")).to_have_text("New plans")
    expect(item(eve, chat_id).locator(".ci-name")).to_have_text("New plans")
    expect(syslines(eve)).to_have_text(["dan renamed the chat to “New plans”", "dan added fay"])
    events = [e["event"] for f in cutter.frames[frames_before:] for e in json.loads(f)]
    assert "chat_updated" not in events, events
    expect(member(open_members(eve), "fay")).to_be_visible()
    eve.keyboard.press("Escape")

    # Removed while her socket is down: her message is refused, the chat leaves her list, and
    # the open conversation says she is no longer in it; the socket coming back changes nothing.
    cutter.cut()
    expect(eve.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    rest(server, "DELETE", f"/chats/{chat_id}/participants/eve?user_id=dan")
    send(eve, "am I still here?")
    expect(row(eve, "am I still here?").locator(".failure")).to_contain_text(
        "you are not in this chat"
    )
    expect(item(eve, chat_id)).to_have_count(0)
    expect(eve.locator("#gone-text")).to_have_text("You are no longer in this chat.")
    cutter.restore()
    eve.evaluate(ONLINE)
    wait_online(eve)
    expect(item(eve, chat_id)).to_have_count(0)
    contents = [m["content"] for m in rest(server, "GET", f"/chats/{chat_id}/messages")]
    assert "am I still here?" not in contents, contents
