"""The dependency rule: web -> actors -> domain; storage is used by actors; domain is pure.

Also: the Redis client (cluster/redis/) stands alone, the cluster node is wired by constructors
only, no import cycle anywhere in the package (``TYPE_CHECKING`` imports included), no JSON
encoding in the domain (wire shapes live in web/), and the chat core (ChatState) without Trio.
Library internals are reached only from compat/ (one module per library, imports nothing else
of chatactors); the rest of the package imports the public modules of those libraries only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "chatactors"

#: layer -> the packages it must never import.
FORBIDDEN = {
    "domain": (
        *("chatactors.actors", "chatactors.web", "chatactors.storage", "trio", "quart"),
        *("orjson", "json", "msgspec"),
    ),
    "actors": ("chatactors.web", "chatactors.cluster", "quart", "hypercorn"),
    "storage": ("chatactors.actors", "chatactors.web", "quart", "hypercorn"),
    "cluster": ("chatactors.web", "quart", "hypercorn"),
}

#: Outside compat/, all that may be imported from the libraries compat/ reaches into: their
#: public modules, and names.
PUBLIC_SURFACE = {
    "hypercorn": ("hypercorn.config", "hypercorn.typing"),
    # ResponseBody: the abstract base of Quart's response bodies (a body of our own, a file's
    # range, is one), not a private name.
    "quart": ("quart", "quart.typing", "quart.wrappers.response.ResponseBody"),
    "quart_trio": ("quart_trio",),
}


def imports_of(path: Path, *, runtime_only: bool = False) -> set[str]:
    """The names ``path`` imports; ``from a import b`` gives ``a`` and ``a.b``.

    With ``runtime_only``, what is imported under ``if TYPE_CHECKING:`` is left out.
    """
    tree = ast.parse(path.read_text(), str(path))
    skipped = {
        inner
        for node in ast.walk(tree)
        if runtime_only and isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
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


def test_the_redis_client_stands_alone() -> None:
    # cluster/redis/ is a small library: it imports nothing else from chatactors.
    own = "chatactors.cluster.redis"
    violations = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in sorted((PACKAGE / "cluster" / "redis").rglob("*.py"))
        for name in imports_of(path)
        if name.startswith("chatactors") and not (name == own or name.startswith(own + "."))
    ]
    assert violations == []


def test_compat_stands_alone() -> None:
    # compat/ is the seam to libraries: it imports nothing else from chatactors.
    violations = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in sorted((PACKAGE / "compat").rglob("*.py"))
        for name in imports_of(path)
        if name.startswith("chatactors.") and not name.startswith("chatactors.compat")
    ]
    assert violations == []


def test_the_chat_core_reads_no_settings_and_draws_no_ids() -> None:
    # ChatState is given a ChatPolicy and a source of message ids: neither it nor anything it
    # imports (TYPE_CHECKING imports included) reads the configuration (argparse, os, socket)
    # or draws random numbers, so that the same commands give the same outcome.
    graph = package_graph()
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    reached: set[str] = set()
    todo = ["chatactors.actors.chat_state"]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo.extend(graph[module])
    banned = ("chatactors.settings", "chatactors.settings_parsing",
              *("argparse", "os", "socket", "uuid", "random", "secrets"))  # fmt: skip
    violations = [
        f"{module} imports {name}"
        for module in sorted(reached)
        for name in imports_of(paths[module])
        if any(name == bad or name.startswith(bad + ".") for bad in banned)
    ]
    assert violations == []


def library_imports(path: Path) -> set[str]:
    """What ``path`` imports: a module, or ``module.name`` for ``from module import name``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_library_internals_are_reached_only_from_compat() -> None:
    outside = [p for p in sorted(PACKAGE.rglob("*.py")) if "compat" not in p.parts]
    violations = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in outside
        for name in library_imports(path)
        if (public := PUBLIC_SURFACE.get(name.split(".")[0])) is not None
        and not any(name == allowed or name.rpartition(".")[0] == allowed for allowed in public)
    ]
    assert violations == []


def test_web_goes_through_actors_not_storage_writes() -> None:
    # Routes may name storage types (MessagePage), but never open or write a store themselves.
    for path in sorted((PACKAGE / "web").rglob("*.py")):
        source = path.read_text()
        writes = (".append_message(", ".change_message(", ".set_read_mark(", ".create_chat(Chat")
        for call in writes:
            assert call not in source, f"{path.name} writes to the store directly ({call})"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_graph(*, runtime_only: bool = False) -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {
        name: {m for m in imports_of(path, runtime_only=runtime_only) if m in modules} - {name}
        for name, path in modules.items()
    }


def test_no_import_cycle_type_checking_imports_included() -> None:
    graph = package_graph()
    cycles: list[list[str]] = []
    state: dict[str, str] = {}  # "open" while on the path, "done" once explored

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_chat_core_runs_without_trio() -> None:
    graph = package_graph(runtime_only=True)
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    reached: set[str] = set()
    todo = ["chatactors.actors.chat_state"]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo.extend(graph[module])
    with_trio = [
        module
        for module in sorted(reached)
        if any(n.split(".")[0] == "trio" for n in imports_of(paths[module], runtime_only=True))
    ]
    assert with_trio == []


@pytest.mark.parametrize("module", ["cluster/node.py", "web/lifespan.py"])
def test_the_cluster_node_is_wired_by_constructors_only(module: str) -> None:
    # Each part is made whole by its constructor (``open_cluster_node``): nothing sets an
    # attribute of another object after it was built.
    tree = ast.parse((PACKAGE / module).read_text())
    targets = [
        target
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign)
        for assigned in (node.targets if isinstance(node, ast.Assign) else [node.target])
        for target in (assigned.elts if isinstance(assigned, ast.Tuple) else [assigned])
    ]
    wired = [
        ast.unparse(target)
        for target in targets
        if isinstance(target, ast.Attribute) and ast.unparse(target.value) != "self"
    ]
    assert wired == []
