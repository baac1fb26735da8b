"""The reproductions in docs/upstream/ still reproduce against the Hypercorn installed: the
upstream behaviours chatactors works around are still there (each script serves a minimal app
with ``hypercorn.trio.serve`` on 127.0.0.1 and exits 0 when it sees the behaviour). When one of
these fails, upstream changed: docs/UPSTREAM.md says which workaround may then go. That
chatactors' own server does not behave so is tested elsewhere (tests/process/test_shutdown.py,
tests/hardening/test_hostile_frames.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPTS = Path(__file__).resolve().parent.parent.parent / "docs" / "upstream"


@pytest.mark.parametrize(
    "command",
    [
        ["ping_close_race.py"],
        ["ping_close_race.py", "--together"],
        # A 2 s ping interval and a 3 s graceful timeout: about 5 s of waiting.
        ["shutdown_wait.py", "2", "3"],
    ],
    ids=" ".join,
)
def test_the_upstream_behaviour_is_still_reproduced(command: list[str]) -> None:
    script, *arguments = command
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / script), *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert done.stdout.splitlines()[-1].startswith("reproduced"), done.stdout
