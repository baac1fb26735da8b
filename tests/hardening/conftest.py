"""A real server process for hardening tests (fuzzing drives it over real HTTP)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.served_process import served_process


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served_process(
        *("--store", "sqlite", "--data-dir", str(tmp_path_factory.mktemp("fuzz-data"))),
        *("--bot-delay-min-s", "0", "--bot-delay-max-s", "0"),
        *("--max-body-bytes", "65536", "--max-content-chars", "8192"),
    ) as served:
        yield served.url
    # A clean, graceful stop after the fuzzing.
    assert served.process.returncode == 0, "".join(served.log)
