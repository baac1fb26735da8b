"""scripts/setup installs only when pyproject.toml changed, so scripts/serve starts at once.

A real venv and a real pip install, of a one-module project in ``tmp_path`` beside a copy of
the script (the repository's own .venv is never touched).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "probe"
version = "{version}"

[project.optional-dependencies]
extra = []

[tool.setuptools]
packages = ["probe"]
"""


def _setup(project: Path, *extras: str) -> str:
    done = subprocess.run(
        [str(project / "scripts" / "setup"), *extras],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return done.stdout


@pytest.mark.slow
def test_setup_reinstalls_only_when_pyproject_or_the_extras_change(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "setup", tmp_path / "scripts" / "setup")
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "__init__.py").write_text("")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.format(version="1"))
    # An existing .venv, as after a first run (creating one is not what is tested).
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / ".venv")], check=True)

    assert "installing" in _setup(tmp_path)
    assert _setup(tmp_path) == ""
    assert "installing" in _setup(tmp_path, "extra")
    assert _setup(tmp_path) == ""  # the extra stays installed
    (tmp_path / "pyproject.toml").write_text(PYPROJECT.format(version="2"))
    assert "installing" in _setup(tmp_path)
    version = subprocess.run(
        [str(tmp_path / ".venv" / "bin" / "python"), "-c", "import importlib.metadata as m;"
         "print(m.version('probe'))"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert version.strip() == "2"
