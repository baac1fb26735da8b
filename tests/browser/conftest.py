"""Fixtures for the browser tests: a real chatactors server per test module, Debian's
Chromium driven by Playwright (sync API), one browser context per simulated user.

Never downloads a browser: /usr/bin/chromium must exist (``apt-get install chromium``),
otherwise every browser test fails loudly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    WebSocketRoute,
    expect,
    sync_playwright,
)

from tests.served_process import ServedProcess, served_process

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"

expect.set_options(timeout=10_000)


#: A served process; tests use ``server.url``.
Server = ServedProcess


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A real server for the module; a module may set SERVER_EXTRA_ARGS = [...]."""
    data_dir = tmp_path_factory.mktemp("chatactors-data")
    extra = list(getattr(request.module, "SERVER_EXTRA_ARGS", []))
    with served_process(
        *("--store", "sqlite", "--data-dir", str(data_dir)),
        *("--bot-delay-min-s", "0.05", "--bot-delay-max-s", "0.2", "--shutdown-timeout-s", "2"),
        *extra,
    ) as served:
        yield served


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's Chromium with "
            "`apt-get update && apt-get install -y chromium` (never `playwright install`)."
        )
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def fake_media_browser(playwright: Playwright) -> Iterator[Browser]:
    """Chromium with a fake microphone (a generated tone) and no permission prompt."""
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
        ],
    )
    yield browser
    browser.close()


class Problems:
    """Page errors and CSP violations seen by any page of a test: each one fails the test."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def watch(self, page: Page, who: str) -> None:
        page.on("pageerror", lambda err: self.items.append(f"{who}: page error: {err}"))
        page.on(
            "console",
            lambda msg: (
                self.items.append(f"{who}: console: {msg.text}")
                if msg.type == "error"
                and ("Content Security Policy" in msg.text or "Refused to" in msg.text)
                else None
            ),
        )


@pytest.fixture
def problems() -> Iterator[Problems]:
    found = Problems()
    yield found
    assert not found.items, "\n".join(found.items)


UserFactory = Callable[..., Page]


@pytest.fixture
def open_user(browser: Browser, server: Server, problems: Problems) -> Iterator[UserFactory]:
    """open_user("alice", color_scheme="dark", viewport=..., token=...) -> a page signed in as
    alice (through `?user=`, or the `?token=` link when access control is on)."""
    contexts: list[BrowserContext] = []

    def open_(
        name: str,
        *,
        color_scheme: str = "light",
        viewport: dict | None = None,
        before_goto: Callable[[Page], None] | None = None,
        token: str | None = None,
    ) -> Page:
        context = browser.new_context(
            viewport=viewport or {"width": 1280, "height": 820},
            color_scheme=color_scheme,
            locale="en-GB",
            timezone_id="Europe/Paris",
        )
        contexts.append(context)
        page = context.new_page()
        problems.watch(page, name)
        if before_goto:
            before_goto(page)
        page.goto(f"{server.url}/?token={token}" if token else f"{server.url}/?user={name}")
        expect(page.locator("#me-name")).to_have_text(name)
        expect(page.locator("#connection")).to_have_attribute("data-state", "online")
        return page

    yield open_
    for context in contexts:
        context.close()


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), animations="disabled")
    return path


class SocketCutter:
    """Sits between a page and the server's WebSockets (Playwright's route_web_socket), so a
    test can drop every connection from the server side and keep the network down for a while.
    """

    def __init__(self) -> None:
        self.live: list[WebSocketRoute] = []
        self.urls: list[str] = []
        self.frames: list[str] = []  # every frame the server sent, in order
        self.sent: list[str] = []  # every frame the page sent, in order
        self.down = False

    def install(self, page: Page) -> None:
        page.route_web_socket(re.compile(r"/ws(/|\?|$)"), self._handle)

    def _handle(self, ws: WebSocketRoute) -> None:
        self.urls.append(ws.url)
        if self.down:
            ws.close(code=1013, reason="network down (test)")
            return
        server = ws.connect_to_server()

        def forward(message: str | bytes) -> None:
            self.frames.append(message if isinstance(message, str) else message.decode())
            ws.send(message)

        def upstream(message: str | bytes) -> None:
            self.sent.append(message if isinstance(message, str) else message.decode())
            server.send(message)

        server.on_message(forward)
        ws.on_message(upstream)
        self.live.append(ws)

    def cut(self) -> None:
        self.down = True
        for ws in self.live:
            ws.close(code=4000, reason="cut (test)")
        self.live.clear()

    def restore(self) -> int:
        """Let connections through again; answers how many attempts were seen so far."""
        self.down = False
        return len(self.urls)
