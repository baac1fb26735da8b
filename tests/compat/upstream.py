"""What the compat tests compare: upstream callables' parameters, and installed versions against
the ranges pyproject.toml pins (which chatactors.compat records as the ones it was checked for).
"""

from __future__ import annotations

import inspect
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

PYPROJECT = Path(__file__).resolve().parent.parent.parent / "pyproject.toml"


def parameters(function: object) -> str:
    """``function``'s signature without annotations, e.g. ``(self, event)``.

    Annotations are left out: upstream respells them between versions (``Optional[int]`` in
    Hypercorn 0.17, ``int | None`` in 0.18) without changing what a caller passes. Names, kinds
    (positional, keyword-only, ``*args``) and defaults are what an override or a call relies on.
    """
    signature = inspect.signature(function)  # type: ignore[arg-type]
    bare = [
        each.replace(annotation=inspect.Parameter.empty) for each in signature.parameters.values()
    ]
    return str(signature.replace(parameters=bare, return_annotation=inspect.Signature.empty))


def pinned(distribution: str) -> SpecifierSet:
    """The version range pyproject.toml pins ``distribution`` to."""
    wanted = canonicalize_name(distribution)
    for line in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]:
        requirement = Requirement(line)
        if canonicalize_name(requirement.name) == wanted:
            return requirement.specifier
    raise AssertionError(f"{distribution} is not a dependency in pyproject.toml")


def check_pin(distribution: str, recorded: str) -> None:
    """The compat module was checked for the range pyproject.toml pins, and the installed
    version is in it: raising the pin means reading the compat module (and its tests) again."""
    assert pinned(distribution) == SpecifierSet(recorded), (
        f"pyproject.toml pins {distribution}{pinned(distribution)} but chatactors.compat was "
        f"checked for {recorded}: review the overrides (docs/UPSTREAM.md), then update PINNED"
    )
    installed = version(distribution)
    assert SpecifierSet(recorded).contains(installed), (distribution, installed, recorded)
