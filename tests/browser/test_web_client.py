"""The web client, end to end: two people in two browser contexts against a real server."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Route, expect

from .conftest import Problems, Server, SocketCutter, UserFactory, screenshot
from .helpers import keys_are_unique, new_chat, open_chat, rest, row, send
from .media_files import png, wav

pytestmark = pytest.mark.browser


# ---- scenarios -------------------------------------------------------------------------------


def test_group_chat_live_exchange_typing_read_ticks_and_bot(
    server: Server, open_user: UserFactory
) -> None:
    alice = open_user("alice")
    bob = open_user("bob", color_scheme="dark")

    chat_id = new_chat(alice, "bob", "carol")
    expect(alice.locator("#chat-title")).to_have_text("bob, carol")
    send(alice, "Hi team! Plan: https://example.com/plan")

    # Alice's message is pending then sent; the link is a real link.
    mine = row(alice, "Hi team!")
    expect(mine).to_have_attribute("data-status", "sent")
    expect(mine.get_by_role("link", name="https://example.com/plan")).to_have_attribute(
        "href", "https://example.com/plan"
    )

    # Bob discovers the chat without reloading, with an unread badge and a preview.
    item = bob.locator(f'.chat-item[data-chat-id="{chat_id}"]')
    expect(item).to_contain_text("alice, carol")
    expect(item.locator(".badge")).to_be_visible()

    # The bot answers in the chat (live, over the socket).
    expect(alice.locator('#messages .row[data-sender="bot_user"]').first).to_be_visible()

    # Bob opens it: alice's tick turns to "read by bob" (carol has not read it yet).
    open_chat(bob, chat_id)
    expect(row(bob, "Hi team!")).to_have_count(1)
    expect(bob.locator(".unread-line")).to_contain_text("unread message")
    expect(item.locator(".badge")).to_have_count(0)
    expect(mine).to_have_attribute("data-status", "partial")
    expect(mine.get_by_role("img", name="Read by bob")).to_be_visible()

    # Typing: bob types, alice sees it; bob stops, it clears (idle -> online) without sending.
    bob.get_by_role("textbox", name="Message", exact=True).press_sequentially("I am wri")
    expect(alice.locator("#typing")).to_contain_text("bob is typing")
    expect(alice.locator("#chat-subtitle")).to_contain_text("bob is typing")
    screenshot(alice, "desktop-light-typing")
    expect(alice.locator("#typing-text")).not_to_contain_text("bob", timeout=9_000)

    # Bob sends; alice gets it live, once. Text is never rendered as HTML.
    bob.get_by_role("textbox", name="Message", exact=True).fill("")
    send(bob, "<img src=x onerror=alert(1)> <b>not bold</b>")
    incoming = row(alice, "<img src=x onerror=alert(1)>")
    expect(incoming).to_have_count(1)
    expect(incoming.locator("img, b")).to_have_count(0)
    expect(incoming.locator(".text")).to_have_text("<img src=x onerror=alert(1)> <b>not bold</b>")

    # A multi-line message: Shift+Enter makes a new line, Enter sends.
    box = alice.get_by_role("textbox", name="Message", exact=True)
    box.press_sequentially("line one")
    box.press("Shift+Enter")
    box.press_sequentially("line two")
    box.press("Enter")
    expect(row(bob, "line one").locator(".text")).to_have_text("line one\nline two")

    expect(bob.locator('#messages .row[data-sender="bot_user"]').first).to_be_visible()
    keys_are_unique(alice)
    keys_are_unique(bob)
    screenshot(alice, "desktop-light-conversation")
    screenshot(bob, "desktop-dark-conversation")


def test_one_to_one_read_ticks_and_presence(server: Server, open_user: UserFactory) -> None:
    alice = open_user("alice2")
    bob = open_user("bob2")
    chat_id = new_chat(alice, "bob2")
    # Bob is connected (his one socket carries the new chat as soon as it is created).
    expect(bob.locator(f'.chat-item[data-chat-id="{chat_id}"]')).to_be_visible()
    expect(alice.locator("#chat-subtitle")).to_have_text("online")
    expect(alice.locator(".chat-header .presence-dot")).to_be_visible()

    send(alice, "Are you there?")
    mine = row(alice, "Are you there?")
    expect(mine).to_have_attribute("data-status", "sent")
    open_chat(bob, chat_id)
    expect(mine).to_have_attribute("data-status", "read")
    expect(mine.get_by_role("img", name="Read")).to_be_visible()

    # The search box filters the list by participant.
    search = alice.get_by_role("searchbox", name="Search chats")
    search.fill("nobody-like-that")
    expect(alice.locator(".chat-item")).to_have_count(0)
    expect(alice.locator("#search-empty")).to_have_text("No chat with “nobody-like-that”")
    search.fill("BOB2")
    expect(alice.locator(f'.chat-item[data-chat-id="{chat_id}"]')).to_be_visible()
    expect(alice.locator("#search-empty")).to_be_hidden()

    # Bob leaves: alice sees "last seen".
    bob.context.close()
    # After the server's presence grace (default 5 s): longer than the usual wait.
    expect(alice.locator("#chat-subtitle")).to_contain_text("last seen", timeout=20_000)


def test_images_and_audio_upload_and_show(
    server: Server, open_user: UserFactory, tmp_path: Path
) -> None:
    alice = open_user("alice3")
    bob = open_user("bob3", color_scheme="dark")
    chat_id = new_chat(alice, "bob3")
    picture = tmp_path / "gradient.png"
    picture.write_bytes(png())
    tone = tmp_path / "tone.wav"
    tone.write_bytes(wav(seconds=2.0))

    alice.locator("#file-input").set_input_files([str(picture), str(tone)])

    # Alice: both appear and end up sent (upload, then the message with the returned URL).
    image_row = alice.locator('#messages .row[data-type="image"][data-sender="alice3"]')
    audio_row = alice.locator('#messages .row[data-type="audio"][data-sender="alice3"]')
    expect(image_row).to_have_attribute("data-status", re.compile("sent|read"))
    expect(audio_row).to_have_attribute("data-status", re.compile("sent|read"))

    # Bob: the image loads from the server, the audio player knows the clip's length.
    open_chat(bob, chat_id)
    bob_image = bob.locator('#messages .row[data-type="image"][data-sender="alice3"]')
    expect(bob_image.locator(".image-btn.loaded")).to_be_visible()
    src = bob_image.locator("img").get_attribute("src") or ""
    assert "/media/" in src, src
    natural = bob_image.locator("img").evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert natural == [160, 120]
    bob_audio = bob.locator('#messages .row[data-type="audio"][data-sender="alice3"]')
    expect(bob_audio.locator(".audio-time")).to_have_text("0:02")
    assert "/media/" in (bob_audio.locator("audio").get_attribute("src") or "")

    # Click the image: the viewer opens; Escape closes it.
    bob_image.locator(".image-btn").click()
    expect(bob.locator("#lightbox")).to_be_visible()
    expect(bob.locator("#lightbox-img")).to_have_attribute("src", src)
    screenshot(bob, "desktop-dark-lightbox")
    bob.keyboard.press("Escape")
    expect(bob.locator("#lightbox")).not_to_be_visible()
    screenshot(bob, "desktop-dark-media")

    # The audio plays.
    bob_audio.get_by_role("button", name="Play audio message").click()
    expect(bob_audio.get_by_role("button", name="Pause audio message")).to_be_visible()


def test_reload_keeps_history_and_older_pages_load_on_scroll(
    server: Server, open_user: UserFactory
) -> None:
    created = rest(server, "POST", "/chats", {"participants": ["alice4", "dave4"]})
    chat_id = created["chat_id"]
    for i in range(1, 131):
        rest(
            server,
            "POST",
            f"/chats/{chat_id}/messages",
            {"user_id": "dave4", "type": "text", "content": f"msg {i:03d}"},
        )

    alice = open_user("alice4", viewport={"width": 1100, "height": 760})
    with alice.expect_request(re.compile(r"/messages\?")) as first_page:
        open_chat(alice, chat_id)
    # Only the newest page at first (older ones come as the reader nears the top), read as
    # alice4 (a member removed from the chat is refused its pages).
    page_url = first_page.value.url
    assert re.search(r"before_seq=\d+&limit=50&user_id=alice4$", page_url), page_url
    # Everything is unread: the chat opens at the "unread" line, the jump button goes down.
    expect(alice.locator(".unread-line")).to_be_in_viewport()
    expect(alice.locator(".unread-line")).to_contain_text(re.compile(r"^1[3-9]\d unread messages$"))
    expect(row(alice, "msg 130")).not_to_be_in_viewport()
    alice.get_by_role("button", name=re.compile("newest")).click()
    expect(row(alice, "msg 130")).to_be_in_viewport()

    alice.reload()
    expect(alice.locator("#chat-view")).to_be_visible()  # the open chat survives a reload
    expect(row(alice, "msg 130")).to_have_count(1)

    scroller = alice.locator("#scroller")
    first = row(alice, "msg 001")
    for _ in range(8):
        if first.count():
            break
        scroller.evaluate("el => el.scrollTop = 0")
        alice.wait_for_function(
            "() => !document.querySelector('#history-status').textContent.includes('Loading')"
        )
    expect(first).to_have_count(1)
    expect(alice.locator("#history-status")).to_have_text(
        "This is the beginning of the conversation"
    )
    for i in (1, 50, 51, 100, 130):
        expect(row(alice, f"msg {i:03d}")).to_have_count(1)
    keys_are_unique(alice)


def test_reconnect_resumes_without_loss_or_duplicates(
    server: Server, open_user: UserFactory
) -> None:
    cutter = SocketCutter()
    alice = open_user("alice5")
    bob = open_user("bob5", before_goto=cutter.install)
    chat_id = new_chat(alice, "bob5")
    expect(bob.locator(f'.chat-item[data-chat-id="{chat_id}"]')).to_be_visible()
    open_chat(bob, chat_id)
    send(alice, "before the drop")
    expect(row(bob, "before the drop")).to_have_count(1)
    expect(bob.locator('#messages .row[data-sender="bot_user"]').first).to_be_visible()
    expect(bob.locator("#connection")).to_have_attribute("data-state", "online")

    # Cut bob's sockets from the server side and keep the network down.
    cutter.cut()
    expect(bob.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    expect(bob.locator("#chat-banner")).to_be_visible()
    expect(bob.locator("#chat-subtitle")).to_have_text("connecting…")  # presence unknown now
    screenshot(bob, "desktop-light-reconnecting")

    send(alice, "while you were away")
    expect(row(alice, "while you were away")).to_have_attribute(
        "data-status", re.compile("sent|read")
    )
    expect(row(bob, "while you were away")).to_have_count(0)
    # Bob writes meanwhile (REST still works): his message's seq comes after alice's unseen one,
    # and must not make his socket skip it when it resumes.
    send(bob, "anyone there?")
    expect(row(bob, "anyone there?")).to_have_attribute("data-status", re.compile("sent|read"))

    # The network comes back: bob reconnects by himself and gets the missed message once.
    sent_before = len(cutter.sent)
    cutter.restore()
    expect(row(bob, "while you were away")).to_have_count(1, timeout=20_000)
    expect(bob.locator("#connection")).to_have_attribute("data-state", "online")
    expect(bob.locator("#chat-banner")).to_be_hidden()
    expect(bob.locator("#chat-subtitle")).to_have_text("online")
    # The first command on the new socket resumes this chat from what bob held.
    first = json.loads(cutter.sent[sent_before])
    assert first["op"] == "resume", cutter.sent[sent_before:]
    assert first["positions"][chat_id]["pos"] >= 1, first  # the chat's log position
    expect(row(bob, "before the drop")).to_have_count(1)
    expect(row(bob, "anyone there?")).to_have_count(1)
    expect(row(alice, "anyone there?")).to_have_count(1)
    send(alice, "after the drop")
    expect(row(bob, "after the drop")).to_have_count(1)
    keys_are_unique(bob)


def test_failed_send_is_resent_when_the_socket_is_back_never_twice(
    server: Server, open_user: UserFactory
) -> None:
    cutter = SocketCutter()
    alice = open_user("alice6", before_goto=cutter.install)
    chat_id = new_chat(alice, "bob6")
    attempts: list[dict[str, Any]] = []
    mode = {"now": "down"}

    def on_post(route: Route) -> None:
        if route.request.method != "POST":
            route.fallback()
            return
        body = route.request.post_data_json
        assert isinstance(body, dict), body  # a JSON object, as the client sends
        attempts.append(body)
        if mode["now"] == "down":  # the request never reaches the server
            route.abort("connectionrefused")
        else:  # the server stores the message, but its answer is lost on the way back
            route.fetch()
            route.abort("connectionreset")

    alice.route(re.compile(r"/chats/[^/]+/messages$"), on_post)
    # With the socket down, sends go over REST; this one never reaches the server.
    cutter.cut()
    expect(alice.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    send(alice, "exactly once please")
    failed = row(alice, "exactly once please")
    expect(failed).to_have_attribute("data-status", "failed")
    expect(failed.get_by_text("Not sent")).to_be_visible()
    screenshot(alice, "desktop-light-failed")

    # Retry, still over REST: the server stores it, but the answer is lost.
    mode["now"] = "lossy"
    failed.get_by_role("button", name="Retry").click()
    expect(failed.locator(".failure")).to_be_visible()
    assert len(attempts) == 2
    assert attempts[0]["client_message_id"] == attempts[1]["client_message_id"]

    # The socket comes back: the message is sent again by itself, and shows once, sent.
    sent_before = len(cutter.sent)
    cutter.restore()
    expect(row(alice, "exactly once please")).to_have_attribute(
        "data-status", re.compile("sent|read"), timeout=20_000
    )
    expect(row(alice, "exactly once please")).to_have_count(1)
    expect(alice.locator("#connection")).to_have_attribute("data-state", "online")
    assert len(attempts) == 2  # nothing more over REST once the socket is up
    resent = [json.loads(f) for f in cutter.sent[sent_before:] if '"op":"send"' in f]
    assert len(resent) <= 1, resent  # never twice
    assert all(c["client_message_id"] == attempts[0]["client_message_id"] for c in resent)

    stored = rest(server, "GET", f"/chats/{chat_id}/messages")
    mine = [m for m in stored if m["content"] == "exactly once please"]
    assert len(mine) == 1, stored
    assert mine[0]["client_message_id"] == attempts[0]["client_message_id"]
    keys_are_unique(alice)


def test_phone_layout_and_who_am_i(
    server: Server, open_user: UserFactory, browser: Browser
) -> None:
    phone = {"width": 390, "height": 780}
    alice = open_user("alice7", viewport=phone)
    chat_id = new_chat(alice, "bob7")
    # On a phone the conversation replaces the list; Back returns to it.
    expect(alice.locator(".sidebar")).to_be_hidden()
    send(alice, "Hello from my phone 📱")
    expect(alice.locator('#messages .row[data-sender="bot_user"]').first).to_be_visible()
    screenshot(alice, "phone-light-conversation")
    alice.get_by_role("button", name="Back to chats").click()
    expect(alice.locator(".sidebar")).to_be_visible()
    expect(alice.locator(f'.chat-item[data-chat-id="{chat_id}"]')).to_be_visible()
    screenshot(alice, "phone-light-list")

    # Switch user: the login screen remembers recent names.
    alice.get_by_role("button", name="Switch user").click()
    expect(alice.get_by_role("heading", name="Who are you?")).to_be_visible()
    expect(alice.locator("#login-recent-list")).to_contain_text("alice7")
    alice.get_by_label("Your name").fill("bob7")
    alice.get_by_role("button", name="Start chatting").click()
    expect(alice.locator("#me-name")).to_have_text("bob7")
    expect(alice.locator(f'.chat-item[data-chat-id="{chat_id}"]')).to_contain_text("alice7")
    # Remembered across a reload without ?user=.
    alice.goto(alice.url.split("?")[0].split("#")[0])
    expect(alice.locator("#me-name")).to_have_text("bob7")


def test_voice_message_recording(
    server: Server, fake_media_browser: Browser, problems: Problems
) -> None:
    context = fake_media_browser.new_context(viewport={"width": 1280, "height": 820})
    context.grant_permissions(["microphone"])
    try:
        page = context.new_page()
        problems.watch(page, "singer")
        # First visit: the "who are you" screen.
        page.goto(server.url + "/")
        expect(page.get_by_role("heading", name="Who are you?")).to_be_visible()
        page.get_by_role("button", name="Start chatting").click()
        expect(page.locator("#login-error")).to_have_text("Please enter a name.")
        screenshot(page, "login-light")
        page.get_by_label("Your name").fill("singer")
        page.get_by_label("Your name").press("Enter")
        expect(page.locator("#me-name")).to_have_text("singer")
        new_chat(page, "listener")

        page.get_by_role("button", name="Record a voice message").click()
        recorder = page.get_by_role("group", name="Recording a voice message")
        expect(recorder).to_be_visible()
        expect(page.locator("#composer")).to_be_hidden()
        expect(recorder.locator("#record-time")).to_have_text("0:01", timeout=5_000)
        recorder.get_by_role("button", name="Stop and send voice message").click()
        expect(recorder).to_be_hidden()

        voice = page.locator('#messages .row[data-type="audio"][data-sender="singer"]')
        expect(voice).to_have_attribute("data-status", re.compile("sent|read"))
        expect(voice.locator(".audio-time")).not_to_have_text("0:00")  # the clip's length is known
        chat_id = page.url.split("#/chat/")[1]
        stored = rest(server, "GET", f"/chats/{chat_id}/messages")
        audio = [m for m in stored if m["user_id"] == "singer"]
        assert len(audio) == 1, stored
        assert audio[0]["type"] == "audio"
        assert "/media/" in audio[0]["content"]

        # Cancelling a recording sends nothing.
        page.get_by_role("button", name="Record a voice message").click()
        expect(recorder).to_be_visible()
        recorder.get_by_role("button", name="Cancel recording").click()
        expect(recorder).to_be_hidden()
        expect(page.locator('#messages .row[data-sender="singer"]')).to_have_count(1)
    finally:
        context.close()


# Fire a paste or drag event carrying one file, the way the browser does for a real one.
DISPATCH_FILE = """(target, [kind, b64, name, type]) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const data = new DataTransfer();
    data.items.add(new File([bytes], name, { type }));
    const init = { bubbles: true, cancelable: true };
    const event = kind === "paste"
        ? new ClipboardEvent("paste", { ...init, clipboardData: data })
        : new DragEvent(kind, { ...init, dataTransfer: data });
    target.dispatchEvent(event);
}"""


def test_paste_and_drop_files_and_keyboard_navigation(
    server: Server, open_user: UserFactory
) -> None:
    alice = open_user("alice8")
    chat_id = new_chat(alice, "bob8")
    other_id = new_chat(alice, "carol8")
    expect(alice.locator(".chat-item")).to_have_count(2)

    # Keyboard: focus the first chat in the list and press Enter.
    alice.locator(f'.chat-item[data-chat-id="{chat_id}"]').focus()
    alice.keyboard.press("Enter")
    expect(alice).to_have_url(re.compile(f"#/chat/{chat_id}$"))
    expect(alice.get_by_role("textbox", name="Message", exact=True)).to_be_focused()

    files = {
        "picture": base64.b64encode(png(64, 48)).decode(),
        "tone": base64.b64encode(wav(1.0)).decode(),
    }
    box = alice.get_by_role("textbox", name="Message", exact=True)
    view = alice.locator("#chat-view")
    # Paste an image into the message box.
    box.evaluate(DISPATCH_FILE, ["paste", files["picture"], "pasted.png", "image/png"])
    # Drop an audio file on the conversation (the drop zone shows while dragging).
    view.evaluate(DISPATCH_FILE, ["dragenter", files["tone"], "dropped.wav", "audio/wav"])
    expect(alice.locator("#drop-zone")).to_be_visible()
    view.evaluate(DISPATCH_FILE, ["drop", files["tone"], "dropped.wav", "audio/wav"])
    expect(alice.locator("#drop-zone")).to_be_hidden()
    mine = alice.locator('#messages .row[data-sender="alice8"]')
    expect(mine).to_have_count(2)
    expect(mine.filter(has=alice.locator("img"))).to_have_attribute(
        "data-status", re.compile("sent|read")
    )
    expect(mine.filter(has=alice.locator("audio"))).to_have_attribute(
        "data-status", re.compile("sent|read")
    )
    stored = rest(server, "GET", f"/chats/{chat_id}/messages")
    assert sorted(m["type"] for m in stored if m["user_id"] == "alice8") == ["audio", "image"]

    # The list previews the last thing sent; the other chat is untouched.
    item = alice.locator(f'.chat-item[data-chat-id="{chat_id}"]')
    expect(item.locator(".ci-preview")).to_contain_text(re.compile("Audio|Photo|Bot"))
    assert rest(server, "GET", f"/chats/{other_id}/messages") == []
