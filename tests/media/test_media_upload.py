"""POST /media: type from the bytes, per-kind limits, content addressing, and message references."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from quart.typing import TestClientProtocol as Client
from quart_trio import QuartTrio

from chatactors.settings import Settings
from chatactors.web import media_api, openapi
from chatactors.web.app import create_app
from chatactors.web.bot_assets import bot_asset_ids
from tests.media import samples
from tests.media.conftest import media_settings

KINDS = [
    (samples.png, "image/png", ".png", (3, 2)),
    (samples.jpeg, "image/jpeg", ".jpg", (11, 9)),
    (samples.gif, "image/gif", ".gif", (5, 7)),
    (samples.webp, "image/webp", ".webp", (9, 4)),
    (samples.mp3, "audio/mpeg", ".mp3", None),
    (samples.ogg_opus, "audio/ogg", ".ogg", None),
    (samples.webm, "audio/webm", ".webm", None),
    (samples.wav, "audio/wav", ".wav", None),
    (samples.mp4, "audio/mp4", ".m4a", None),
]


def media_files(tmp_path: Path) -> list[str]:
    """The files in the media directory, besides the bot's (imported at start-up)."""
    bundled = set(bot_asset_ids().values())
    return sorted(p.name for p in (tmp_path / "media").iterdir() if p.name not in bundled)


@pytest.mark.parametrize(("make", "content_type", "extension", "size"), KINDS)
async def test_multipart_upload_of_each_kind(
    client: Client,
    tmp_path: Path,
    make: Callable[[], bytes],
    content_type: str,
    extension: str,
    size: tuple[int, int] | None,
) -> None:
    data = make()
    body, multipart_type = samples.multipart(data, filename="upload.bin")
    response = await client.post("/media", data=body, headers={"Content-Type": multipart_type})
    assert response.status_code == 200, await response.get_data()
    answer = await response.get_json()
    assert answer["content_type"] == content_type
    assert answer["size"] == len(data)
    assert answer["id"].endswith(extension)
    assert answer["url"] == f"http://localhost:8000/media/{answer['id']}"
    assert (answer.get("width"), answer.get("height")) == (size or (None, None))
    assert (tmp_path / "media" / answer["id"]).read_bytes() == data

    served = await client.get(f"/media/{answer['id']}")
    assert served.status_code == 200
    assert served.headers["Content-Type"] == content_type
    assert await served.get_data() == data


async def test_raw_body_upload(client: Client) -> None:
    data = samples.wav()
    response = await client.post("/media", data=data, headers={"Content-Type": "audio/wav"})
    assert response.status_code == 200
    answer = await response.get_json()
    assert answer["content_type"] == "audio/wav"
    assert answer["size"] == len(data)


async def test_claimed_type_and_name_are_ignored(client: Client) -> None:
    body, multipart_type = samples.multipart(
        samples.png(), filename="song.mp3", content_type="audio/mpeg"
    )
    response = await client.post("/media", data=body, headers={"Content-Type": multipart_type})
    answer = await response.get_json()
    assert answer["content_type"] == "image/png"
    assert answer["id"].endswith(".png")


async def test_text_claiming_to_be_an_image_is_415(client: Client, tmp_path: Path) -> None:
    body, multipart_type = samples.multipart(
        b"<script>alert(1)</script>", filename="pic.png", content_type="image/png"
    )
    response = await client.post("/media", data=body, headers={"Content-Type": multipart_type})
    assert response.status_code == 415
    assert "Unsupported media type" in (await response.get_json())["detail"]
    assert media_files(tmp_path) == [], "the temporary file was removed"


async def test_raw_svg_is_415(client: Client) -> None:
    response = await client.post(
        "/media",
        data=b"<svg xmlns='http://www.w3.org/2000/svg'></svg>",
        headers={"Content-Type": "image/svg+xml"},
    )
    assert response.status_code == 415


async def test_same_bytes_are_stored_once(client: Client, tmp_path: Path) -> None:
    first = await (await client.post("/media", data=samples.png())).get_json()
    body, multipart_type = samples.multipart(samples.png(), filename="again.png")
    second = await (
        await client.post("/media", data=body, headers={"Content-Type": multipart_type})
    ).get_json()
    assert first["id"] == second["id"]
    assert media_files(tmp_path) == [first["id"]]


async def test_empty_upload_and_missing_field_are_422(client: Client) -> None:
    assert (await client.post("/media", data=b"")).status_code == 422
    body, multipart_type = samples.multipart(samples.png(), field="picture")
    response = await client.post("/media", data=body, headers={"Content-Type": multipart_type})
    assert response.status_code == 422
    assert "'file'" in (await response.get_json())["detail"]


async def test_per_kind_limits(tmp_path: Path) -> None:
    image = samples.png(40, 40)
    audio = samples.wav(frames=4000)
    settings = media_settings(
        tmp_path,
        max_image_bytes=len(image) - 1,
        max_audio_bytes=len(audio),
        # Below the audio limit: the upload route lifts the app-wide limit for itself only.
        max_body_bytes=len(audio) // 2,
    )
    async with create_app(settings).test_app() as test_app:
        client = test_app.test_client()
        too_big = await client.post("/media", data=image)
        assert too_big.status_code == 413
        assert str(len(image) - 1) in (await too_big.get_json())["detail"]
        body, multipart_type = samples.multipart(image)
        multipart_too_big = await client.post(
            "/media", data=body, headers={"Content-Type": multipart_type}
        )
        assert multipart_too_big.status_code == 413
        fits = await client.post("/media", data=audio)
        assert fits.status_code == 200, await fits.get_data()
        over = await client.post("/media", data=audio + b"\x00")
        assert over.status_code == 413
        # Elsewhere the app-wide limit still holds.
        chat = await client.post("/chats", data=b"x" * len(audio))
        assert chat.status_code == 413
    assert media_files(tmp_path) == [(await fits.get_json())["id"]]


async def test_declared_length_over_every_limit_is_refused_before_reading(tmp_path: Path) -> None:
    settings = media_settings(tmp_path, max_image_bytes=1000, max_audio_bytes=2000)
    async with create_app(settings).test_app() as test_app:
        client = test_app.test_client()
        response = await client.post("/media", data=samples.png() + b"\x00" * 200_000)
        assert response.status_code == 413


async def _chat(client: Client) -> str:
    response = await client.post("/chats", json={"participants": ["alice", "bob"]})
    chat_id: str = (await response.get_json())["chat_id"]
    return chat_id


@pytest.mark.parametrize("absolute", [True, False])
async def test_message_pointing_at_an_upload(client: Client, absolute: bool) -> None:
    chat_id = await _chat(client)
    uploaded = await (await client.post("/media", data=samples.png())).get_json()
    content = uploaded["url"] if absolute else f"/media/{uploaded['id']}"
    response = await client.post(
        f"/chats/{chat_id}/messages",
        json={"user_id": "alice", "type": "image", "content": content},
    )
    assert response.status_code == 200
    assert (await response.get_json())["message"]["content"] == content


@pytest.mark.parametrize(
    "content",
    [
        "http://localhost:8000/media/" + "0" * 64 + ".png",
        "/media/" + "0" * 64 + ".png",
        "http://localhost:8000/media/../secrets",
        "/media/",
    ],
)
async def test_message_pointing_at_a_missing_upload_is_422(client: Client, content: str) -> None:
    chat_id = await _chat(client)
    response = await client.post(
        f"/chats/{chat_id}/messages",
        json={"user_id": "alice", "type": "image", "content": content},
    )
    assert response.status_code == 422
    assert "No such upload" in (await response.get_json())["detail"]


async def test_other_urls_stay_opaque(client: Client) -> None:
    chat_id = await _chat(client)
    for content in ("https://example.com/media/nothing.png", "see /media/ later", "hi"):
        response = await client.post(
            f"/chats/{chat_id}/messages",
            json={"user_id": "alice", "type": "text", "content": content},
        )
        assert response.status_code == 200, content


async def test_openapi_documents_the_media_routes(settings: Settings) -> None:
    # The media routes alone, documented as the real app's are.
    app = QuartTrio(__name__)
    openapi.install(app, settings)
    media_api.install(app, settings)
    async with app.test_app() as test_app:
        response = await test_app.test_client().get("/openapi.json")
        assert response.status_code == 200
        paths = (await response.get_json())["paths"]
    upload = paths["/media"]["post"]
    assert {"multipart/form-data", "image/png", "audio/mpeg"} <= set(
        upload["requestBody"]["content"]
    )
    assert {"200", "413", "415", "422"} <= set(upload["responses"])
    assert {"200", "404", "416"} <= set(paths["/media/{media_id}"]["get"]["responses"])


async def test_openapi_of_the_whole_app_generates(client: Client) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert "/media" in (await response.get_json())["paths"]


async def test_each_refusal_names_the_limit_that_applied(tmp_path: Path) -> None:
    """The default limits (10 MiB images, 25 MiB audio, 12 MiB other bodies): a 28 MB WAV was
    refused with the 12 MiB body limit's number (issue 12, item 10)."""
    settings = media_settings(tmp_path)
    image_limit, audio_limit = settings.max_image_bytes, settings.max_audio_bytes
    header = samples.wav(frames=100)
    async with create_app(settings).test_app() as test_app:
        client = test_app.test_client()
        cases = (
            # Over every upload limit, refused on its declared length: the largest applies.
            (header + b"\x00" * (28_000_000 - len(header)), "largest upload limit", audio_limit),
            # Under the route's limit, over its kind's: the kind's limit applies.
            (header + b"\x00" * audio_limit, "audio limit", audio_limit),
            (samples.png() + b"\x00" * image_limit, "image limit", image_limit),
        )
        for body, named, limit in cases:
            response = await client.post("/media", data=body)
            assert response.status_code == 413
            detail = (await response.get_json())["detail"]
            assert f"{named} of {limit} bytes" in detail
            assert str(settings.max_body_bytes) not in detail
        # The control: a 12 MiB WAV (over the body limit of other routes) is taken.
        fits = await client.post("/media", data=header + b"\x00" * settings.max_body_bytes)
        assert fits.status_code == 200
