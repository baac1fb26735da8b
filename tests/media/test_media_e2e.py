"""End to end over real Hypercorn on 127.0.0.1: upload a 1 MiB WAV, read it back in ranges."""

from __future__ import annotations

from pathlib import Path

import trio

from tests.harness.served_app import served_app
from tests.media import samples
from tests.media.conftest import media_settings


async def test_upload_then_ranged_reads_over_http(tmp_path: Path) -> None:
    data = samples.wav(frames=512 * 1024, rate=44100)  # 1 MiB of samples
    assert len(data) > 1024 * 1024
    settings = media_settings(tmp_path, max_body_bytes=64 * 1024)
    with trio.fail_after(30):
        async with served_app(settings) as server:
            http = server.http
            uploaded = await http.post("/media", files={"file": ("voice.wav", data, "audio/wav")})
            assert uploaded.status_code == 200, uploaded.text
            answer = uploaded.json()
            assert answer["size"] == len(data)
            assert answer["content_type"] == "audio/wav"
            path = f"/media/{answer['id']}"

            whole = await http.get(path)
            assert whole.status_code == 200
            assert whole.content == data

            head = await http.head(path)
            assert head.headers["content-length"] == str(len(data))
            assert head.content == b""

            middle = await http.get(path, headers={"Range": "bytes=500000-600000"})
            assert middle.status_code == 206
            assert middle.headers["content-range"] == f"bytes 500000-600000/{len(data)}"
            assert middle.content == data[500000:600001]

            tail = await http.get(path, headers={"Range": "bytes=-100"})
            assert tail.content == data[-100:]

            chat = (await http.post("/chats", json={"participants": ["a", "b"]})).json()
            sent = await http.post(
                f"/chats/{chat['chat_id']}/messages",
                json={"user_id": "a", "type": "audio", "content": answer["url"]},
            )
            assert sent.status_code == 200
