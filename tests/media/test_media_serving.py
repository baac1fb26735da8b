"""GET/HEAD /media/<id>: headers, conditional requests, byte ranges, and ids that name nothing."""

from __future__ import annotations

import pytest
from quart.typing import TestClientProtocol as Client

from chatactors.web.bot_assets import bot_asset_ids
from tests.media import samples

DATA = samples.wav(frames=500)  # 1,044 bytes
SIZE = len(DATA)


async def upload(client: Client, data: bytes = DATA) -> str:
    response = await client.post("/media", data=data)
    assert response.status_code == 200
    media_id: str = (await response.get_json())["id"]
    return media_id


async def test_get_has_type_length_etag_and_immutable_caching(client: Client) -> None:
    media_id = await upload(client)
    response = await client.get(f"/media/{media_id}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "audio/wav"
    assert response.headers["Content-Length"] == str(SIZE)
    assert response.headers["ETag"] == f'"{media_id.split(".")[0]}"'
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Accept-Ranges"] == "bytes"
    assert await response.get_data() == DATA


async def test_head_has_the_headers_and_no_body(client: Client) -> None:
    media_id = await upload(client)
    response = await client.head(f"/media/{media_id}")
    assert response.status_code == 200
    # (Content-Length is checked over real HTTP in test_media_e2e: the test client rebuilds
    # the response from the body it received, which resets it.)
    assert response.headers["ETag"] == f'"{media_id.split(".")[0]}"'
    assert response.headers["Content-Type"] == "audio/wav"
    assert await response.get_data() == b""


async def test_if_none_match_is_304(client: Client) -> None:
    media_id = await upload(client)
    etag = (await client.get(f"/media/{media_id}")).headers["ETag"]
    response = await client.get(f"/media/{media_id}", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.headers["ETag"] == etag
    assert await response.get_data() == b""
    other = await client.get(f"/media/{media_id}", headers={"If-None-Match": '"other"'})
    assert other.status_code == 200


@pytest.mark.parametrize(
    ("header", "begin", "end"),
    [
        ("bytes=0-9", 0, 10),  # the start
        ("bytes=100-199", 100, 200),  # the middle
        (f"bytes={SIZE - 10}-{SIZE - 1}", SIZE - 10, SIZE),  # the end
        ("bytes=500-", 500, SIZE),  # open-ended
        (f"bytes=1000-{SIZE * 4}", 1000, SIZE),  # past the end: clipped
        ("bytes=-16", SIZE - 16, SIZE),  # a suffix
        (f"bytes=-{SIZE * 2}", 0, SIZE),  # a suffix longer than the file: all of it
    ],
)
async def test_range_is_206_with_content_range(
    client: Client, header: str, begin: int, end: int
) -> None:
    media_id = await upload(client)
    response = await client.get(f"/media/{media_id}", headers={"Range": header})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {begin}-{end - 1}/{SIZE}"
    assert response.headers["Content-Length"] == str(end - begin)
    assert await response.get_data() == DATA[begin:end]


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", f"bytes={SIZE + 5}-{SIZE + 9}"])
async def test_unsatisfiable_range_is_416(client: Client, header: str) -> None:
    media_id = await upload(client)
    response = await client.get(f"/media/{media_id}", headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{SIZE}"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-1", "bytes=9-3", "nonsense"])
async def test_multiple_or_malformed_ranges_get_the_whole_file(client: Client, header: str) -> None:
    media_id = await upload(client)
    response = await client.get(f"/media/{media_id}", headers={"Range": header})
    assert response.status_code == 200
    assert await response.get_data() == DATA


async def test_if_range_with_another_etag_gets_the_whole_file(client: Client) -> None:
    media_id = await upload(client)
    headers = {"Range": "bytes=0-9", "If-Range": '"stale"'}
    response = await client.get(f"/media/{media_id}", headers=headers)
    assert response.status_code == 200
    assert await response.get_data() == DATA
    etag = response.headers["ETag"]
    matching = await client.get(f"/media/{media_id}", headers={**headers, "If-Range": etag})
    assert matching.status_code == 206


@pytest.mark.parametrize(
    "path",
    [
        "/media/..%2F..%2Fetc%2Fpasswd",
        "/media/../../etc/passwd",
        "/media/%2E%2E",
        "/media/" + "0" * 64 + ".png",  # well formed, never uploaded
        "/media/" + "0" * 64 + ".exe",
        "/media/" + "0" * 64 + ".png%2F..",
        "/media/.upload-0123456789abcdef",
        "/media/etc/passwd",
    ],
)
async def test_ids_that_name_no_upload_are_404(client: Client, path: str) -> None:
    await upload(client)
    response = await client.get(path)
    assert response.status_code == 404
    assert b"root:" not in await response.get_data()


async def test_bot_assets_are_served_from_the_store(client: Client) -> None:
    ids = bot_asset_ids()
    assert set(ids) == {"sunrise.png", "waves.png", "chime.wav", "hello.wav"}
    by_id = await client.get(f"/media/{ids['chime.wav']}", headers={"Range": "bytes=0-3"})
    assert by_id.status_code == 206
    assert await by_id.get_data() == b"RIFF"
    by_name = await client.get("/assets/bot/sunrise.png")
    assert by_name.status_code == 200
    assert by_name.headers["Content-Type"] == "image/png"
    assert by_name.headers["Cache-Control"] == "public, max-age=86400"
    assert (await by_name.get_data(as_text=False)).startswith(b"\x89PNG")
    assert (await client.get("/assets/bot/..%2Fweb%2Fapp.py")).status_code == 404
    assert (await client.get("/assets/bot/missing.png")).status_code == 404
