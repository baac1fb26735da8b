"""With access control on: the client signs in from a `?token=` link and sends the token on
every request and socket; without a token it says that signing in is needed."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from playwright.sync_api import Browser, expect

from .conftest import Server, UserFactory
from .helpers import new_chat, open_chat, row, send
from .media_files import png

pytestmark = pytest.mark.browser

SECRET = "browser-tests-secret-" + "x" * 32
SERVER_EXTRA_ARGS = ["--auth-enabled", "--auth-secret", SECRET]


class _RawUtf8(json.JSONEncoder):
    """JSON as most JWT libraries write it (Node's jsonwebtoken, jose): non-ASCII as UTF-8 bytes,
    where PyJWT (and so ``chatactors token``) writes ``\\u00eb`` escapes."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**{**options, "ensure_ascii": False})


def token_for(user: str, *, raw_utf8: bool = False) -> str:
    now = int(time.time())
    claims = {"sub": user, "iat": now, "exp": now + 3600}
    encoder = _RawUtf8 if raw_utf8 else None
    return jwt.encode(claims, SECRET, algorithm="HS256", json_encoder=encoder)


def test_token_link_signs_in_and_everything_works(
    server: Server, open_user: UserFactory, tmp_path: Path
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


def test_without_a_token_the_client_asks_to_sign_in(server: Server, browser: Browser) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{server.url}/?user=mallory")
        expect(page.get_by_role("heading", name="Who are you?")).to_be_visible()
        expect(page.locator("#login-error")).to_contain_text("requires signing in")
    finally:
        context.close()


@pytest.mark.parametrize("raw_utf8", [True, False], ids=["utf8-payload", "escaped-payload"])
def test_a_user_id_beyond_ascii_signs_in_and_sends(
    server: Server, open_user: UserFactory, raw_utf8: bool
) -> None:
    """The token's payload is UTF-8 JSON: "zoë" is read as "zoë" (not "zoÃ«") however the issuer
    wrote it, so the client acts as the token's own user and the server accepts its sends."""
    token = token_for("zoë", raw_utf8=raw_utf8)
    assert ("zoë".encode() in base64.urlsafe_b64decode(token.split(".")[1] + "==")) is raw_utf8
    zoe = open_user("zoë", token=token)  # waits for "zoë" shown and the socket online
    chat_id = new_chat(zoe, "bob")
    text = f"bonjour from zoë ({'utf8' if raw_utf8 else 'escaped'})"  # the two share a chat
    send(zoe, text)
    sent = zoe.locator('#messages .row[data-sender="zoë"]', has_text=text)
    expect(sent).to_have_attribute("data-status", re.compile("sent|read"))

    headers = {"Authorization": f"Bearer {token}"}
    stored = httpx.get(f"{server.url}/chats/{chat_id}/messages", headers=headers, timeout=10)
    assert [m["user_id"] for m in stored.json() if m["content"] == text] == ["zoë"]
