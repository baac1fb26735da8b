"""A frontend written for the reference server runs unchanged against chatactors.

The page below is the contract's own WebSocket snippet plus the ``fetch`` calls such a frontend
makes, served from another origin (so CORS preflights happen as they would for a separate
frontend), in Debian's Chromium. Nothing in it knows about chatactors' extensions.
"""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import Server

pytestmark = pytest.mark.browser

PAGE = """<!doctype html>
<html><body><pre id="log"></pre>
<script>
const API = "%(api)s";
const log = (line) => { document.getElementById("log").textContent += line + "\\n"; };
async function main() {
  const created = await fetch(`${API}/chats`, {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({participants: ["user1", "user2"]}),
  }).then((r) => r.json());
  const chatId = created.chat_id;
  log("created " + created.participants.join(","));

  // The contract's snippet, verbatim apart from the host.
  const socket = new WebSocket(`ws://%(host)s/ws/${chatId}`);
  socket.onmessage = (event) => {
    const data = JSON.parse(event.data);
    console.log("Event Type:", data.event);
    console.log("Payload:", data.data);
    log("event " + data.event + " " + (data.data.user_id || ""));
  };
  socket.onopen = async () => {
    console.log("WebSocket connection established");
    const sent = await fetch(`${API}/chats/${chatId}/messages`, {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({user_id: "user1", type: "text", content: "Hello, world!"}),
    }).then((r) => r.json());
    log("sent " + sent.status);
    await fetch(`${API}/chats/${chatId}/presence`, {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({user_id: "user2", status: "typing"}),
    });
    const read = await fetch(`${API}/chats/${chatId}/read`, {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({user_id: "user2"}),
    }).then((r) => r.json());
    log("read " + (read.last_read_message_id ? "ok" : "missing"));
    const messages = await fetch(`${API}/chats/${chatId}/messages`).then((r) => r.json());
    const stamp = new Date(messages[0].timestamp);
    log("history " + messages.length + " " + messages[0].content + " utc=" +
        (Math.abs(Date.now() - stamp.getTime()) < 600000));
    const chats = await fetch(`${API}/chats`).then((r) => r.json());
    log("listed " + chats.find((c) => c.chat_id === chatId).participants.join(","));
  };
  socket.onerror = (error) => log("socket error");
  socket.onclose = () => log("socket closed");
}
main().catch((error) => log("failed " + error));
</script></body></html>
"""


@pytest.fixture
def other_origin(server: Server) -> Iterator[str]:
    """A plain HTTP server on another port serving the reference-style page."""
    api = server.url
    body = (PAGE % {"api": api, "host": api.split("://", 1)[1]}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_reference_frontend_runs_unchanged_from_another_origin(
    browser: Browser, other_origin: str
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(other_origin)
        log = page.locator("#log")
        expect(log).to_contain_text("created user1,user2")
        expect(log).to_contain_text("sent message_sent")
        expect(log).to_contain_text("event message_received user1")
        expect(log).to_contain_text("event presence_updated user2")
        expect(log).to_contain_text("event chat_read user2")
        expect(log).to_contain_text("read ok")
        # The bot (pauses of 0.05-0.2 s here) may have answered before the page reads history.
        expect(log).to_contain_text(re.compile(r"history [12] Hello, world! utc=true"))
        expect(log).to_contain_text("listed user1,user2,bot_user")
        expect(log).not_to_contain_text("failed")
        expect(log).not_to_contain_text("socket error")
    finally:
        context.close()
