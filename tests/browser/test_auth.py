"""With access control on: the client signs in from a `?token=` link and sends the token on
every request and socket; without a token it says that signing in is needed."""

from __future__ import annotations

import re
import time

import jwt
import pytest
from playwright.sync_api import expect

from .conftest import Server, UserFactory
from .helpers import new_chat, open_chat, row, send
from .media_files import png

pytestmark = pytest.mark.browser

SECRET = "browser-tests-secret-" + "x" * 32
SERVER_EXTRA_ARGS = ["--auth-enabled", "--auth-secret", SECRET]


def token_for(user: str) -> str:
    now = int(time.time())
    return jwt.encode({"sub": user, "iat": now, "exp": now + 3600}, SECRET, algorithm="HS256")


def test_token_link_signs_in_and_everything_works(
    server: Server, open_user: UserFactory, tmp_path
) -> None:
    alice = open_user("alice", token=token_for("alice"))
    assert "token=" not in alice.url  # the token does not stay in the address bar or history

    chat_id = new_chat(alice, "bob")
    send(alice, "signed message")
    expect(row(alice, "signed message")).to_have_attribute("data-status", re.compile("sent|read"))

    bob = open_user("bob", token=token_for("bob"), color_scheme="dark")
    open_chat(bob, chat_id)
    expect(row(bob, "signed message")).to_have_count(1)
    send(bob, "signed reply")
    expect(row(alice, "signed reply")).to_have_count(1)  # over alice's authenticated socket

    picture = tmp_path / "p.png"
    picture.write_bytes(png(40, 30))
    alice.locator("#file-input").set_input_files(str(picture))
    uploaded = alice.locator('#messages .row[data-type="image"][data-sender="alice"]')
    expect(uploaded).to_have_attribute("data-status", re.compile("sent|read"))
    # Only alice's image: the bot may have answered with an image of its own by now.
    alice_image = '#messages .row[data-type="image"][data-sender="alice"] .image-btn.loaded'
    expect(bob.locator(alice_image)).to_be_visible()


def test_without_a_token_the_client_asks_to_sign_in(server: Server, browser) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{server.url}/?user=mallory")
        expect(page.get_by_role("heading", name="Who are you?")).to_be_visible()
        expect(page.locator("#login-error")).to_contain_text("requires signing in")
    finally:
        context.close()
