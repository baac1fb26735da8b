"""The server image: pinned versions that satisfy pyproject.toml, no load-generator packages, and
a healthcheck that follows the configured port.

No Docker engine runs here: these check the Dockerfile's inputs and run its healthcheck command
and the server (with the bench packages made unimportable) as real processes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.served_process import served_process

ROOT = Path(__file__).resolve().parent.parent
BENCH_ONLY = ("httpx", "trio-websocket", "matplotlib")


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def _requirements(extra: str | None = None) -> list[Requirement]:
    """The server's requirements, or those of one extra, from pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines: list[str] = (
        project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    )
    return [Requirement(line) for line in lines]


def test_constraints_pin_every_server_dependency_within_pyproject() -> None:
    pins = _pins()
    for requirement in _requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not pinned in constraints.txt (run scripts/constraints)"
        assert requirement.specifier.contains(pins[name]), (name, pins[name], requirement)


def test_the_server_leaves_the_load_generators_packages_to_the_bench_extra() -> None:
    dependencies = [requirement.name for requirement in _requirements()]
    bench = [requirement.name for requirement in _requirements("bench")]
    pins = _pins()
    for name in BENCH_ONLY:
        assert name not in dependencies
        assert name in bench
        assert canonicalize_name(name) not in pins


def test_the_image_installs_the_server_with_the_constraints() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^COPY .*constraints\.txt", dockerfile, re.MULTILINE)
    assert "pip install --constraint constraints.txt .\\" in dockerfile.replace(" \\", "\\")


def _healthcheck() -> list[str]:
    """The Dockerfile's HEALTHCHECK command, run with this interpreter."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    match = re.search(r"^HEALTHCHECK .*?\\\n\s+CMD (\[.*\])$", dockerfile, re.MULTILINE)
    assert match is not None
    command: list[str] = json.loads(match.group(1))
    assert command[0] == "python"
    return [sys.executable, *command[1:]]


@pytest.mark.slow
def test_the_server_serves_without_the_bench_packages_and_the_healthcheck_follows_its_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Imported at start-up by every child interpreter: the bench packages cannot be imported.
    blocked = ", ".join(repr(name.replace("-", "_")) for name in BENCH_ONLY)
    (tmp_path / "sitecustomize.py").write_text(
        f"import sys\nfor name in ({blocked}):\n    sys.modules[name] = None\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    probe = subprocess.run([sys.executable, "-c", "import httpx"], capture_output=True, check=False)
    assert b"ModuleNotFoundError" in probe.stderr or b"ImportError" in probe.stderr
    with served_process("--store", "memory", "--no-bot-enabled") as server:
        port = server.url.rsplit(":", 1)[1]
        healthy = subprocess.run(
            _healthcheck(), env={**os.environ, "CHATACTORS_PORT": port}, timeout=30, check=False
        )
        assert healthy.returncode == 0
        other_port = str(int(port) + 1 if int(port) < 65535 else 1024)
        unhealthy = subprocess.run(
            _healthcheck(),
            env={**os.environ, "CHATACTORS_PORT": other_port},
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert unhealthy.returncode != 0
        bench = subprocess.run(
            [sys.executable, "-m", "chatactors", "bench", "--help"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert bench.returncode == 2
        assert "pip install 'chatactors[bench]'" in bench.stdout
