"""The dependency rule: web -> actors -> domain; storage is used by actors; domain is pure."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "chatactors"

#: layer -> the packages it must never import.
FORBIDDEN = {
    "domain": ("chatactors.actors", "chatactors.web", "chatactors.storage", "trio", "quart"),
    "actors": ("chatactors.web", "quart", "hypercorn"),
    "storage": ("chatactors.actors", "chatactors.web", "quart", "hypercorn"),
    "cluster": ("chatactors.web", "quart", "hypercorn"),
}


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_never_imports_higher_layers(layer: str) -> None:
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files, f"no modules found in {layer}/"
    violations = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in files
        for name in imports_of(path)
        if any(name == banned or name.startswith(banned + ".") for banned in FORBIDDEN[layer])
    ]
    assert violations == []


def test_web_goes_through_actors_not_storage_writes() -> None:
    # Routes may name storage types (MessagePage), but never open or write a store themselves.
    for path in sorted((PACKAGE / "web").rglob("*.py")):
        source = path.read_text()
        for call in (".append_message(", ".set_read_mark(", ".create_chat(Chat"):
            assert call not in source, f"{path.name} writes to the store directly ({call})"
