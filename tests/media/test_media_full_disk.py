"""POST /media on a file system with no room: 503 with Retry-After, never 500 (issue 12, item 3).

Real file systems, in a real server process: a 2 MiB tmpfs of the server's own (mounted in a
user and mount namespace of its own, ``unshare -rm``: no privilege needed, nothing mounted for
anyone else), which answers writes with ENOSPC; and a file size cap (``prlimit --fsize``), which
answers with EFBIG (CPython ignores SIGXFSZ, so the write fails instead of killing the process).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from tests.media import samples
from tests.served_process import served_process

pytestmark = pytest.mark.slow

SMALL_FS = ("unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=2m tmpfs "$0" && exec "$@"')


def _wav(size: int) -> bytes:
    header = samples.wav(frames=100)
    return header + b"\x00" * (size - len(header))


@pytest.mark.parametrize("limit", ["tmpfs", "fsize"], ids=["ENOSPC", "EFBIG"])
def test_no_room_for_an_upload_is_503_and_the_server_lives_on(tmp_path: Path, limit: str) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    wrapper: Sequence[str] = (
        (*SMALL_FS, str(data_dir)) if limit == "tmpfs" else ("prlimit", "--fsize=2097152")
    )
    args = ("--store", "sqlite", "--data-dir", str(data_dir), "--no-bot-enabled")
    with served_process(*args, wrapper=wrapper) as server, httpx.Client(timeout=30) as client:
        # 3 MiB: under the 25 MiB audio limit, over what the file system takes.
        response = client.post(f"{server.url}/media", content=_wav(3 * 1024 * 1024))
        assert response.status_code == 503, response.text
        assert int(response.headers["Retry-After"]) >= 1
        assert "retry" in response.json()["detail"]
        # The refused upload left nothing behind: a small one still fits, and is served.
        small = client.post(f"{server.url}/media", content=samples.png())
        assert small.status_code == 200, small.text
        assert client.get(f"{server.url}/media/{small.json()['id']}").content == samples.png()
        assert client.get(f"{server.url}/healthz").status_code == 200
    assert not any("Traceback" in line for line in server.log), "".join(server.log)
