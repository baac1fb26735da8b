"""The bot's image URLs: served here by default, or https URLs that Next.js's <Image> accepts."""

from __future__ import annotations

import logging

import orjson
import pytest

from chatactors.web.app import create_app
from chatactors.web.lifespan import bot_asset_urls
from chatactors.web.services import services_of
from tests.conftest import make_settings
from tests.harness.asgi_socket import open_socket


async def test_by_default_the_bot_serves_its_images_and_says_so_at_start_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(make_settings(bot_enabled=True, port=8123))
    with caplog.at_level(logging.INFO, logger="chatactors.web.lifespan"):
        async with app.test_app() as test_app:
            # Said once at start-up, where a frontend developer sees it.
            assert "--bot-images https" in caplog.text
            running = services_of(app)
            assert running is not None
            urls = bot_asset_urls(running.media)
            assert urls["sunrise.png"].startswith("http://localhost:8123/media/")
            image = await test_app.test_client().get(urls["sunrise.png"].split(":8123")[1])
            assert image.status_code == 200
            assert image.content_type == "image/png"


async def test_https_mode_gives_https_images_and_keeps_sounds_served_here(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(make_settings(bot_enabled=True, bot_images="https", port=8123))
    with caplog.at_level(logging.INFO, logger="chatactors.web.lifespan"):
        async with app.test_app():
            running = services_of(app)
            assert running is not None
            urls = bot_asset_urls(running.media)
    assert urls["sunrise.png"] == "https://picsum.photos/seed/chatactors-sunrise/640/480"
    assert urls["waves.png"].startswith("https://picsum.photos/")
    assert urls["chime.wav"].startswith("http://localhost:8123/media/")
    assert "--bot-images https" not in caplog.text


async def test_the_bot_posts_https_images_in_https_mode() -> None:
    settings = make_settings(
        bot_enabled=True, bot_images="https", bot_delay_min_s=0, bot_delay_max_s=0
    )
    app = create_app(settings)
    images: list[str] = []
    async with app.test_app() as test_app:
        client = test_app.test_client()
        created = await client.post("/chats", json={"participants": ["alice"]})
        chat_id = (await created.get_json())["chat_id"]
        async with open_socket(app, f"/ws/{chat_id}") as ws:
            # The bot picks its replies at random: about 1 in 20 is an image.
            for i in range(300):
                await client.post(
                    f"/chats/{chat_id}/messages",
                    json={"user_id": "alice", "type": "text", "content": f"#{i}"},
                )
                while True:  # until the bot's sequence ends
                    frame = orjson.loads(await ws.receive())
                    data = frame["data"]
                    if frame["event"] == "message_received" and data["type"] == "image":
                        images.append(data["content"])
                    if frame["event"] == "presence_updated" and data["status"] == "offline":
                        break
                if images:
                    break
    assert images
    assert all(url.startswith("https://picsum.photos/seed/chatactors-") for url in images)
