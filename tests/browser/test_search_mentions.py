"""Issue 25 in the web client, in Chromium against a real server: the search box (its keyboard
shortcuts, results grouped by chat with the matched words marked from the server's code point
offsets, filters, "More results"), a result opening its chat at the message, highlighted, also
when it is far further back than the pages held (loaded around it, not page by page); and
mentions: `@` suggestions in the composer, the mention marked for the person named, and the
chat list's mention badge, live and after a reload, cleared by reading the chat.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, Request, expect

from .conftest import Server, UserFactory
from .helpers import open_chat, rest, row

pytestmark = pytest.mark.browser

SERVER_EXTRA_ARGS = ["--no-bot-enabled"]  # no bot answers among the messages the tests count


def post(server: Server, chat_id: str, user: str, content: str) -> dict[str, Any]:
    body = {"user_id": user, "type": "text", "content": content}
    message: dict[str, Any] = rest(server, "POST", f"/chats/{chat_id}/messages", body)["message"]
    return message


def group(server: Server, title: str, *people: str) -> str:
    created = rest(server, "POST", "/chats", {"participants": list(people), "title": title})
    chat_id: str = created["chat_id"]
    return chat_id


def search_box(page: Page) -> Any:
    return page.get_by_role("searchbox", name="Search chats and messages")


def hits(page: Page) -> Any:
    return page.locator("#search-groups .hit")


def test_search_finds_messages_grouped_by_chat_and_opens_one_highlighted(
    server: Server, open_user: UserFactory
) -> None:
    trip = group(server, "Trip", "alice1", "bob1")
    # Two emoji (one code point each for the server, two UTF-16 units each here) before the
    # word: marks placed by UTF-16 offsets would cover "e pineap", not the word.
    post(server, trip, "bob1", "😀😀 Shall we book the pineapple café?")
    post(server, trip, "alice1", "no idea, ask carol")
    direct = rest(server, "POST", "/chats", {"participants": ["alice1", "carol1"]})["chat_id"]
    post(server, direct, "carol1", "pineapple pizza tonight")

    alice = open_user("alice1")
    # "/" when not typing goes to the search box.
    alice.locator("body").press("/")
    box = search_box(alice)
    expect(box).to_be_focused()
    box.press_sequentially("pineap")  # the word being typed is searched as a prefix

    expect(hits(alice)).to_have_count(2)
    groups = alice.locator("#search-groups .hit-group")
    expect(groups).to_have_count(2)
    expect(groups.nth(0).locator(".hit-chat-name")).to_have_text("carol1")  # newest first
    expect(groups.nth(1).locator(".hit-chat-name")).to_have_text("Trip")
    expect(alice.locator("#search-groups mark")).to_have_text(["pineapple", "pineapple"])
    expect(groups.nth(1).locator(".hit-who")).to_have_text("bob1")
    # The chats are filtered by the same words: none is called "pineap".
    expect(alice.locator("#search-empty")).to_have_text("No chat with “pineap”")

    # Filters: from someone; in the open chat (offered once a chat is open).
    alice.locator("#search-from").select_option("bob1")
    expect(hits(alice)).to_have_count(1)
    expect(hits(alice).first).to_contain_text("Shall we book")
    alice.locator("#search-from").select_option("")
    expect(hits(alice)).to_have_count(2)
    expect(alice.locator("#search-here")).to_be_hidden()

    # Choosing a result opens its chat at the message, highlighted.
    hits(alice).filter(has_text="Shall we book").click()
    expect(alice.locator("#chat-title")).to_have_text("Trip")
    found = row(alice, "Shall we book")
    expect(found).to_be_in_viewport()
    expect(found).to_have_class(re.compile(r"\bflash\b"))

    # Ctrl+K from the message box comes back to the search, which keeps its results; now it
    # can be narrowed to the open chat.
    alice.get_by_role("textbox", name="Message", exact=True).click()
    alice.keyboard.press("Control+k")
    expect(box).to_be_focused()
    alice.get_by_text("In “Trip”").click()
    expect(hits(alice)).to_have_count(1)
    alice.get_by_text("In “Trip”").click()
    expect(hits(alice)).to_have_count(2)

    # Escape empties the box: no results, every chat listed again.
    box.press("Escape")
    expect(box).to_have_value("")
    expect(alice.locator("#search-results")).to_be_hidden()
    expect(alice.locator(".chat-item")).to_have_count(2)


def test_more_results_pages_on_and_a_bad_query_says_why(
    server: Server, open_user: UserFactory
) -> None:
    chat_id = group(server, "Bulk", "alice2", "bob2")
    for i in range(25):
        post(server, chat_id, "bob2", f"bulk walrus number {i}")
    alice = open_user("alice2")
    box = search_box(alice)
    box.fill("bulk")  # the chat's title, and a word of every message
    box.press("Enter")
    expect(hits(alice)).to_have_count(20)
    more = alice.get_by_role("button", name="More results")
    more.click()
    expect(hits(alice)).to_have_count(25)
    expect(more).to_be_hidden()
    expect(alice.locator("#search-groups .hit-group")).to_have_count(1)  # one chat, one group
    # Keyboard: down from the box goes through the chats, then the results.
    box.press("ArrowDown")
    expect(alice.locator(".chat-item").first).to_be_focused()
    alice.keyboard.press("ArrowDown")
    expect(hits(alice).first).to_be_focused()

    box.fill("w*")  # a one-letter prefix: the server's 422, in its words
    box.press("Enter")
    expect(alice.locator("#search-status")).to_contain_text("prefix")
    expect(hits(alice)).to_have_count(0)


def test_a_message_far_back_is_loaded_around_it_not_page_by_page(
    server: Server, open_user: UserFactory
) -> None:
    chat_id = group(server, "Long", "alice3", "dave3")
    other = group(server, "Other", "alice3", "dave3")
    # Alice's own messages (none unread: the chat opens at its newest, pages nothing older),
    # but the one to find.
    for i in range(1, 301):
        if i == 30:
            post(server, chat_id, "dave3", "msg 030 the platypus report")
        else:
            post(server, chat_id, "alice3", f"msg {i:03d}")

    alice = open_user("alice3", viewport={"width": 1100, "height": 760})
    open_chat(alice, chat_id)
    expect(row(alice, "msg 300")).to_have_count(1)
    pages: list[str] = []

    def note(request: Request) -> None:
        if "/messages?" in request.url:
            pages.append(request.url)

    alice.on("request", note)
    box = search_box(alice)
    box.fill("platypus")
    expect(hits(alice)).to_have_count(1)
    hits(alice).click()

    found = row(alice, "platypus report")
    expect(found).to_be_in_viewport()
    expect(found).to_have_class(re.compile(r"\bflash\b"))
    expect(row(alice, "msg 029")).to_have_count(1)
    expect(row(alice, "msg 031")).to_have_count(1)
    # Only the messages around it are shown (a page more each way as the reader is near an
    # end), not the 250 between it and the newest page.
    expect(row(alice, "msg 300")).to_have_count(0)
    expect(row(alice, "msg 200")).to_have_count(0)
    around = ("before_seq=31&limit=25", "after_seq=30&limit=25")
    assert sorted(part for url in pages for part in around if part in url) == sorted(around), pages
    assert not any("before_seq=251" in url for url in pages), pages  # no paging down to it

    # Reading on towards the newest: newer pages load below, the place stays.
    scroller = alice.locator("#scroller")
    scroller.evaluate("el => el.scrollTop = el.scrollHeight")
    expect(row(alice, "msg 080")).to_have_count(1)
    # The jump button goes back to the newest messages.
    alice.get_by_role("button", name=re.compile("newest")).click()
    expect(row(alice, "msg 300")).to_be_in_viewport()
    expect(row(alice, "platypus report")).to_have_count(0)
    # A new message arrives at the live end as usual.
    post(server, chat_id, "dave3", "msg 301")
    expect(row(alice, "msg 301")).to_be_in_viewport()

    # The result again: the window is still held, shown without loading it again.
    count = len(pages)
    box.fill("platypus")
    expect(hits(alice)).to_have_count(1)
    hits(alice).click()
    expect(row(alice, "platypus report")).to_be_in_viewport()
    assert not [url for url in pages[count:] if "after_seq=30&" in url], pages[count:]

    # Another chat, then this one again from the list: it opens at its newest messages.
    box.press("Escape")  # the list is whole again
    open_chat(alice, other)
    open_chat(alice, chat_id)
    expect(row(alice, "msg 301")).to_be_in_viewport()
    expect(row(alice, "platypus report")).to_have_count(0)


def test_mentions_suggested_marked_and_counted_until_read(
    server: Server, open_user: UserFactory
) -> None:
    chat_id = group(server, "Crew", "ann4", "ben4", "Cy Twist")
    ben = open_user("ben4")
    chat_item = ben.locator(f'.chat-item[data-chat-id="{chat_id}"]')
    expect(chat_item).to_be_visible()
    expect(chat_item.locator(".badge-mention")).to_have_count(0)

    ann = open_user("ann4")
    open_chat(ann, chat_id)
    box = ann.get_by_role("textbox", name="Message", exact=True)
    suggestions = ann.get_by_role("listbox", name="People to mention")

    # "@" lists who may be mentioned: the people, the bot, everyone (a group); Escape closes it.
    box.press_sequentially("@")
    expect(suggestions).to_be_visible()
    expect(suggestions.get_by_role("option")).to_have_count(4)
    expect(suggestions.locator('[data-user="all"]')).to_contain_text("Everyone")
    box.press("Escape")
    expect(suggestions).to_be_hidden()
    expect(box).to_have_value("@")
    box.fill("")

    box.press_sequentially("Hi @be")
    expect(suggestions.get_by_role("option")).to_have_count(1)
    expect(suggestions.get_by_role("option", name="ben4")).to_have_attribute(
        "aria-selected", "true"
    )
    box.press("Enter")  # picks; does not send
    expect(box).to_have_value("Hi @ben4 ")
    box.press_sequentially("and @tw")  # a word of "Cy Twist"
    expect(suggestions.get_by_role("option", name="Cy Twist")).to_be_visible()
    box.press("Tab")
    expect(box).to_have_value("Hi @ben4 and @Cy Twist ")
    box.press_sequentially("look")
    box.press("Enter")
    expect(box).to_have_value("")

    # The server read both names back.
    page = rest(server, "GET", f"/chats/{chat_id}/messages?limit=1")
    assert page[-1]["content"] == "Hi @ben4 and @Cy Twist look"
    assert page[-1]["mentions"] == ["ben4", "Cy Twist"]

    # Ben sees the badge live, and after a reload (the list's and the socket's counts).
    badge = chat_item.locator(".badge-mention")
    expect(badge).to_have_attribute("aria-label", "1 unread mention of you")
    ben.reload()
    expect(badge).to_have_attribute("aria-label", "1 unread mention of you")
    expect(chat_item.locator(".badge:not(.badge-mention)")).to_have_text("1")

    # Opening the chat: the message marked for him, his name in it; the badge is gone.
    open_chat(ben, chat_id)
    message = row(ben, "look")
    expect(message).to_have_class(re.compile(r"\bmentions-me\b"))
    expect(message.locator(".mention-me")).to_have_text("@ben4")
    expect(message.locator(".mention:not(.mention-me)")).to_have_text("@Cy Twist")
    expect(badge).to_have_count(0)
    ben.reload()
    expect(ben.locator(f'.chat-item[data-chat-id="{chat_id}"] .badge-mention')).to_have_count(0)

    # Ann's own message names others, not her: not marked for her.
    expect(row(ann, "look")).not_to_have_class(re.compile(r"\bmentions-me\b"))


def test_searching_in_the_open_chat_from_a_phone(server: Server, open_user: UserFactory) -> None:
    chat_id = group(server, "Phones", "amy5", "bo5")
    post(server, chat_id, "bo5", "the quokka photo is in the album")
    other = group(server, "Elsewhere", "amy5", "bo5")
    post(server, other, "bo5", "another quokka")
    amy = open_user("amy5", viewport={"width": 390, "height": 760})
    open_chat(amy, chat_id)
    expect(amy.locator(".sidebar")).to_be_hidden()
    # The header's search button brings the list screen back, searching this chat only.
    amy.get_by_role("button", name="Search in this chat").click()
    box = search_box(amy)
    expect(box).to_be_focused()
    expect(amy.locator("#search-here")).to_be_checked()
    box.press_sequentially("quokka")
    expect(hits(amy)).to_have_count(1)
    hits(amy).click()
    expect(amy.locator(".sidebar")).to_be_hidden()
    expect(row(amy, "quokka photo")).to_be_in_viewport()
    # Cancel leaves the search and goes back to the chat.
    amy.get_by_role("button", name="Search in this chat").click()
    amy.get_by_role("button", name="Cancel").click()
    expect(amy.locator("#chat-view")).to_be_visible()
    expect(amy.locator(".sidebar")).to_be_hidden()
    expect(amy.locator("#chat-search")).to_have_value("")
