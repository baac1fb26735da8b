"""Messages that live (issue 23) in the web client: replies, reactions, edits and deletes, seen
live by the other person, and still right after a reconnect and a reload."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from .conftest import Problems, Server, SocketCutter, UserFactory, screenshot
from .helpers import keys_are_unique, open_chat, rest, send

pytestmark = pytest.mark.browser

SERVER_EXTRA_ARGS = ["--no-bot-enabled"]  # no bot answers between the rows the tests count

PHONE = {"width": 390, "height": 844}
ONLINE = "window.dispatchEvent(new Event('online'))"  # the browser says the network is back


# ---- steps ---------------------------------------------------------------------------------


def row(page: Page, text: str) -> Locator:
    """The row of the message whose own text is exactly ``text`` (a quote of it does not count)."""
    own_text = page.locator(".content > .text").get_by_text(text, exact=True)
    return page.locator("#messages .row").filter(has=own_text)


def post(server: Server, chat_id: str, user: str, content: str, **extra: Any) -> dict[str, Any]:
    """Someone posts over REST; answers the stored message."""
    body = {"user_id": user, "type": "text", "content": content, **extra}
    message: dict[str, Any] = rest(server, "POST", f"/chats/{chat_id}/messages", body)["message"]
    return message


def messages(server: Server, chat_id: str) -> dict[str, dict[str, Any]]:
    """The chat's messages as the server has them now, by id."""
    return {m["id"]: m for m in rest(server, "GET", f"/chats/{chat_id}/messages")}


def message_menu(page: Page, text: str) -> Locator:
    """Open a message's menu the desktop way: hover the message, then its "⋯" button."""
    target = row(page, text)
    target.hover()
    target.get_by_role("button", name="Message actions").click()
    menu = page.get_by_role("menu", name="Message actions")
    expect(menu).to_be_visible()
    return menu


def long_press(page: Page, text: str) -> Locator:
    """Open a message's menu the phone way: a finger held on the bubble."""
    bubble = row(page, text).locator(".bubble")
    box = bubble.bounding_box()
    assert box is not None
    point = {"clientX": box["x"] + 20, "clientY": box["y"] + box["height"] / 2}
    bubble.dispatch_event("pointerdown", {"pointerType": "touch", "isPrimary": True, **point})
    menu = page.get_by_role("menu", name="Message actions")
    expect(menu).to_be_visible()  # after the press has lasted long enough
    bubble.dispatch_event("pointerup", {"pointerType": "touch", "isPrimary": True, **point})
    return menu


def chip(page: Page, text: str, emoji: str) -> Locator:
    return row(page, text).locator(".reaction", has_text=emoji)


def two_people(
    server: Server, open_user: UserFactory, a: str, b: str, **b_options: Any
) -> tuple[Page, Page, str]:
    chat_id = rest(server, "POST", "/chats", {"participants": [a, b]})["chat_id"]
    first = open_user(a)
    second = open_user(b, **b_options)
    open_chat(first, chat_id)
    open_chat(second, chat_id)
    return first, second, chat_id


# ---- scenarios -----------------------------------------------------------------------------


def test_reply_shows_its_quote_and_finds_an_original_far_back(
    server: Server, open_user: UserFactory
) -> None:
    chat_id = rest(server, "POST", "/chats", {"participants": ["ann", "ben"]})["chat_id"]
    very_first = post(server, chat_id, "ben", "the very first message")
    for i in range(2, 131):  # ann's own: nothing makes her page start further up (unread line)
        post(server, chat_id, "ann", f"filler {i}")
    post(server, chat_id, "ben", "answering the very first", reply_to=very_first["id"])
    ann = open_user("ann")
    ben = open_user("ben", color_scheme="dark")
    open_chat(ann, chat_id)
    open_chat(ben, chat_id)

    # The original is three pages back: the reply says so, and a click finds it.
    answer = row(ann, "answering the very first")
    expect(answer.locator(".quote")).to_contain_text("Reply to an earlier message")
    expect(row(ann, "the very first message")).to_have_count(0)
    answer.locator(".quote").click()
    original = row(ann, "the very first message")
    expect(original).to_be_in_viewport()
    expect(original).to_have_class(re.compile(r"\bflash\b"))
    expect(original.locator(".bubble")).to_be_focused()
    expect(answer.locator(".quote")).to_contain_text("the very first message")  # now held
    keys_are_unique(ann)

    # Ann answers ben's last message: the quote is shown above the composer, Esc drops it.
    message_menu(ann, "answering the very first").get_by_role("menuitem", name="Reply").click()
    bar = ann.locator("#reply-bar")
    expect(bar).to_contain_text("Replying to ben")
    expect(bar).to_contain_text("answering the very first")
    box = ann.get_by_role("textbox", name="Message", exact=True)
    expect(box).to_be_focused()
    box.press("Escape")
    expect(bar).to_be_hidden()
    message_menu(ann, "answering the very first").get_by_role("menuitem", name="Reply").click()
    expect(bar).to_be_visible()
    send(ann, "this is my reply")
    expect(bar).to_be_hidden()

    # The sent message shows its quote, for both; the server stored what it answers.
    mine = row(ann, "this is my reply")
    expect(mine).to_have_attribute("data-status", re.compile("sent|read"))
    expect(mine.locator(".quote")).to_contain_text("ben")
    expect(mine.locator(".quote")).to_contain_text("answering the very first")
    theirs = row(ben, "this is my reply")
    expect(theirs.locator(".quote")).to_contain_text("answering the very first")
    by_text = {m["content"]: m for m in messages(server, chat_id).values()}
    stored = by_text["this is my reply"]
    assert stored["reply_to"] == by_text["answering the very first"]["id"], stored
    screenshot(ben, "desktop-dark-reply")

    # Ben follows the quote to the original, which he holds already.
    ben.locator("#scroller").evaluate("s => s.scrollTo(0, 0)")
    theirs.locator(".quote").click()
    expect(row(ben, "answering the very first")).to_be_in_viewport()


def test_reactions_are_live_toggled_by_their_chip_and_say_who(
    server: Server, open_user: UserFactory
) -> None:
    ann, ben, chat_id = two_people(server, open_user, "ann2", "ben2", viewport=PHONE)
    send(ann, "react to me")
    expect(row(ben, "react to me")).to_have_count(1)

    # Ben, on a phone, holds the message and picks a heart.
    long_press(ben, "react to me").get_by_role("menuitemcheckbox", name="React with ❤️").click()
    expect(ben.get_by_role("menu", name="Message actions")).to_be_hidden()
    for page in (ann, ben):
        expect(chip(page, "react to me", "❤️")).to_have_text(re.compile(r"❤️\s*1"))
    expect(chip(ben, "react to me", "❤️")).to_have_attribute("aria-pressed", "true")
    expect(chip(ann, "react to me", "❤️")).to_have_attribute("aria-pressed", "false")
    expect(chip(ann, "react to me", "❤️")).to_have_attribute("title", "ben2")
    screenshot(ben, "phone-light-reaction")

    # Ann clicks the chip: her reaction joins ben's, live on both sides, in the order given.
    chip(ann, "react to me", "❤️").click()
    for page in (ann, ben):
        expect(chip(page, "react to me", "❤️")).to_have_text(re.compile(r"❤️\s*2"))
    expect(chip(ann, "react to me", "❤️")).to_have_attribute("title", "ben2 and You")
    expect(chip(ben, "react to me", "❤️")).to_have_attribute("title", "You and ann2")
    expect(chip(ann, "react to me", "❤️")).to_have_attribute("aria-pressed", "true")

    # The menu shows which emoji are mine, and the keyboard drives it: Enter opens it on its first
    # item, arrows move, Escape closes it and gives the focus back.
    more = row(ann, "react to me").get_by_role("button", name="Message actions")
    more.focus()
    more.press("Enter")
    menu = ann.get_by_role("menu", name="Message actions")
    expect(menu.get_by_role("menuitemcheckbox", name="React with 👍")).to_be_focused()
    heart = menu.get_by_role("menuitemcheckbox", name="Remove your ❤️")
    expect(heart).to_have_attribute("aria-checked", "true")
    ann.keyboard.press("ArrowRight")
    expect(heart).to_be_focused()
    ann.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(more).to_be_focused()
    more.press("Enter")
    ann.keyboard.press("ArrowLeft")  # round to the last item, then back to the first
    ann.keyboard.press("Home")
    ann.keyboard.press("Enter")  # 👍
    for page in (ann, ben):
        expect(chip(page, "react to me", "👍")).to_have_text(re.compile(r"👍\s*1"))

    # A second click on her heart takes it back, for both.
    chip(ann, "react to me", "❤️").click()
    for page in (ann, ben):
        expect(chip(page, "react to me", "❤️")).to_have_text(re.compile(r"❤️\s*1"))
    expect(chip(ann, "react to me", "❤️")).to_have_attribute("aria-pressed", "false")
    stored = next(m for m in messages(server, chat_id).values() if m["content"] == "react to me")
    assert stored["reactions"] == {"❤️": ["ben2"], "👍": ["ann2"]}, stored


def test_edit_in_place_is_live_marked_edited_and_escape_cancels(
    server: Server, open_user: UserFactory
) -> None:
    ann, ben, chat_id = two_people(server, open_user, "ann3", "ben3")
    send(ben, "a message from ben")
    send(ann, "helo wrld")
    expect(row(ben, "helo wrld")).to_have_count(1)

    # Only my own text messages can be edited.
    menu = message_menu(ann, "a message from ben")
    expect(menu.get_by_role("menuitem", name="Reply")).to_be_visible()
    expect(menu.get_by_role("menuitem", name="Edit")).to_have_count(0)
    expect(menu.get_by_role("menuitem", name="Delete")).to_have_count(0)
    ann.keyboard.press("Escape")

    # Escape cancels: nothing changes, here or on the server.
    message_menu(ann, "helo wrld").get_by_role("menuitem", name="Edit").click()
    editor = ann.get_by_role("textbox", name="Edit message")
    expect(editor).to_be_focused()
    expect(editor).to_have_value("helo wrld")
    editor.fill("this never happened")
    editor.press("Escape")
    expect(editor).to_have_count(0)
    expect(row(ann, "helo wrld").locator(".text")).to_have_text("helo wrld")
    expect(row(ann, "helo wrld").locator(".edited")).to_be_hidden()
    stored = next(m for m in messages(server, chat_id).values() if m["user_id"] == "ann3")
    assert (stored["content"], stored["edited_at"]) == ("helo wrld", None), stored

    # Up in the empty message box edits my last message; Enter saves it, live for ben.
    box = ann.get_by_role("textbox", name="Message", exact=True)
    box.focus()
    box.press("ArrowUp")
    editor = ann.get_by_role("textbox", name="Edit message")
    expect(editor).to_have_value("helo wrld")
    editor.fill("hello world")
    editor.press("Enter")
    for page in (ann, ben):
        edited = row(page, "hello world")
        expect(edited.locator(".text")).to_have_text("hello world")
        expect(edited.locator(".edited")).to_be_visible()
        expect(edited.locator(".edited")).to_have_text("edited")
        expect(row(page, "helo wrld")).to_have_count(0)
    expect(box).to_be_focused()
    expect(ben.locator(".chat-item", has_text="hello world")).to_have_count(1)  # the list's preview

    # Copy puts the text as it is now on the clipboard.
    ben.context.grant_permissions(["clipboard-read", "clipboard-write"])
    message_menu(ben, "hello world").get_by_role("menuitem", name="Copy text").click()
    expect(ben.locator(".toast")).to_have_text("Copied")
    assert ben.evaluate("navigator.clipboard.readText()") == "hello world"
    stored = messages(server, chat_id)[stored["id"]]
    assert stored["content"] == "hello world", stored
    assert stored["edited_at"], stored
    keys_are_unique(ben)


def test_delete_asks_first_and_leaves_a_placeholder_for_everyone(
    server: Server, open_user: UserFactory
) -> None:
    ann, ben, chat_id = two_people(server, open_user, "ann4", "ben4")
    send(ann, "keep this one")
    send(ann, "oops, wrong chat")
    expect(row(ben, "oops, wrong chat")).to_have_count(1)

    # Cancel keeps it.
    message_menu(ann, "oops, wrong chat").get_by_role("menuitem", name="Delete").click()
    dialog = ann.get_by_role("dialog", name="Delete this message?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("oops, wrong chat")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(row(ben, "oops, wrong chat")).to_have_count(1)

    # Delete removes it for everyone, in place: a placeholder stays, with no menu.
    message_menu(ann, "oops, wrong chat").get_by_role("menuitem", name="Delete").click()
    dialog.get_by_role("button", name="Delete").click()
    for page in (ann, ben):
        expect(page.locator("#messages")).not_to_contain_text("oops, wrong chat")
        placeholder = page.locator("#messages .row.deleted")
        expect(placeholder).to_have_count(1)
        expect(placeholder).to_contain_text("Message deleted")
        expect(placeholder.get_by_role("button", name="Message actions")).to_be_hidden()
        expect(page.locator("#messages .row")).to_have_count(2)
        # The placeholder stays where the message was: after "keep this one".
        expect(page.locator("#messages .row").last).to_have_class(re.compile(r"\bdeleted\b"))
    expect(ben.locator(f'.chat-item[data-chat-id="{chat_id}"]')).to_contain_text("Message deleted")
    screenshot(ben, "desktop-light-deleted")
    gone = [m for m in messages(server, chat_id).values() if m["deleted"]]
    assert len(gone) == 1, gone
    assert gone[0]["content"] == "", gone


def test_changes_made_while_away_show_after_a_reconnect_and_a_reload(
    server: Server, open_user: UserFactory
) -> None:
    cutter = SocketCutter()
    chat_id = rest(server, "POST", "/chats", {"participants": ["ann5", "ben5"]})["chat_id"]
    one = post(server, chat_id, "ann5", "one")
    two = post(server, chat_id, "ann5", "two")
    three = post(server, chat_id, "ann5", "three")
    ben = open_user("ben5", before_goto=cutter.install)
    open_chat(ben, chat_id)
    expect(row(ben, "three")).to_have_count(1)

    # Ben's socket is cut and kept down; meanwhile ann edits, deletes, reacts and writes on.
    cutter.cut()
    expect(ben.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    path = f"/chats/{chat_id}/messages"
    rest(server, "PATCH", f"{path}/{one['id']}", {"user_id": "ann5", "content": "one, edited"})
    rest(server, "DELETE", f"{path}/{two['id']}?user_id=ann5")
    rest(server, "PUT", f"{path}/{three['id']}/reactions/{quote('🎉')}", {"user_id": "ann5"})
    post(server, chat_id, "ann5", "four")
    twice = {"user_id": "ann5", "content": "one, edited twice"}
    rest(server, "PATCH", f"{path}/{one['id']}", twice)
    expect(row(ben, "one, edited")).to_have_count(0)

    # Back: the socket resumes from the chat's log position and replays each change once.
    sent_before = len(cutter.sent)
    cutter.restore()
    expect(row(ben, "four")).to_have_count(1, timeout=20_000)
    resume = json.loads(cutter.sent[sent_before])
    assert resume["op"] == "resume", cutter.sent[sent_before:]
    assert resume["positions"][chat_id] == {"pos": 3}, resume

    def shows_every_change(page: Page) -> None:
        expect(row(page, "one, edited twice").locator(".edited")).to_be_visible()
        expect(page.locator("#messages .row.deleted")).to_contain_text("Message deleted")
        expect(chip(page, "three", "🎉")).to_have_text(re.compile(r"🎉\s*1"))
        expect(page.locator("#messages .row .content")).to_have_text(
            ["one, edited twice", "Message deleted", "three", "four"]
        )
        keys_are_unique(page)

    shows_every_change(ben)
    updates = [e for f in cutter.frames for e in json.loads(f) if e["event"] == "message_updated"]
    assert [e["pos"] for e in updates] == [4, 5, 6, 8], updates  # each change once, in order
    ben.reload()
    expect(ben.locator("#connection")).to_have_attribute("data-state", "online")
    open_chat(ben, chat_id)
    shows_every_change(ben)

    # And live changes keep coming on the new socket.
    rest(server, "DELETE", f"{path}/{three['id']}/reactions/{quote('🎉')}?user_id=ann5")
    expect(row(ben, "three").locator(".reaction")).to_have_count(0)


def test_a_change_made_before_the_socket_first_opens_is_not_missed(
    browser: Browser, server: Server, problems: Problems
) -> None:
    """The page reads its chats over REST, then its socket subscribes: a change in between is not
    replayed by the first resume (the page has no log position yet), so once the socket says
    where each chat stands the client reads again what it holds: the open chat's messages and the
    list's previews."""
    chat_id = rest(server, "POST", "/chats", {"participants": ["ann6", "ben6"]})["chat_id"]
    other_id = rest(server, "POST", "/chats", {"participants": ["cat6", "ben6"]})["chat_id"]
    first = post(server, chat_id, "ann6", "before the socket")
    post(server, chat_id, "ann6", "the newest one")
    elsewhere = post(server, other_id, "cat6", "in the other chat")
    cutter = SocketCutter()
    cutter.down = True  # the socket cannot open yet; REST works
    context = browser.new_context(viewport={"width": 1280, "height": 820})
    try:
        page = context.new_page()
        problems.watch(page, "ben6")
        cutter.install(page)
        page.goto(f"{server.url}/?user=ben6#/chat/{chat_id}")
        expect(row(page, "before the socket")).to_have_count(1)
        other = page.locator(f'.chat-item[data-chat-id="{other_id}"]')
        expect(other).to_contain_text("in the other chat")
        expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
        path = f"/chats/{chat_id}/messages/{first['id']}"
        rest(server, "PATCH", path, {"user_id": "ann6", "content": "changed before the socket"})
        rest(server, "PUT", f"{path}/reactions/{quote('👍')}", {"user_id": "ann6"})
        rest(server, "PATCH", f"/chats/{other_id}/messages/{elsewhere['id']}",
             {"user_id": "cat6", "content": "in the other chat, edited"})  # fmt: skip
        cutter.restore()
        page.evaluate(ONLINE)  # reconnect now, not after a backoff
        expect(page.locator("#connection")).to_have_attribute("data-state", "online")
        expect(row(page, "changed before the socket").locator(".edited")).to_be_visible()
        expect(chip(page, "changed before the socket", "👍")).to_have_count(1)
        expect(other).to_contain_text("in the other chat, edited")
        resume = json.loads(cutter.sent[0])
        assert resume["positions"][chat_id] == 2, resume  # by seq: no position known yet
        # From now on the page knows the chat's position and resumes by it.
        cutter.cut()
        rest(server, "DELETE", f"{path}?user_id=ann6")
        sent_before = len(cutter.sent)
        cutter.restore()
        page.evaluate(ONLINE)
        expect(page.locator("#messages .row.deleted")).to_have_count(1)
        positions = json.loads(cutter.sent[sent_before])["positions"]
        assert positions == {chat_id: {"pos": 4}, other_id: {"pos": 2}}, positions
    finally:
        context.close()
