"""A real server process for hardening tests (fuzzing drives it over real HTTP)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.harness.server_process import server_process


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with server_process(
        *("--max-body-bytes", "65536", "--max-content-chars", "8192"),
        data_dir=tmp_path_factory.mktemp("fuzz-data"),
        bot=True,
    ) as served:
        yield served.url
    # A clean, graceful stop after the fuzzing.
    assert served.returncode == 0, served.log()
