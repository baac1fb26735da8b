"""The web client's JavaScript (chatactors/web/static/js/) is checked here, without a browser.

- Every module parses: ``node --check``, fed on stdin as an ES module. (``node --check file.js``
  on a path is not enough: outside a package that declares ``"type": "module"``, Node 20 passes
  a module with a syntax error after its first ``import``.) The Node unit tests
  (tests/client/*.mjs, run by ``node --test`` in scripts/test) are parsed too.
- A module whose opening comment says it has "no DOM", "no network" or "no timers" uses none of
  the browser globals that would contradict it (comments, strings and regular expressions left
  out), so that what its header promises (a model Node can test) stays true.

No linter: the ones worth having (ESLint, Biome) come from npm, and the client has no build step
or package.json to install them into; ``node --check`` needs nothing beyond Node.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
CLIENT = ROOT / "chatactors" / "web" / "static" / "js"
NODE_TESTS = ROOT / "tests" / "client"
MODULES = sorted(CLIENT.glob("*.js"))

#: What a module's header may promise, and the globals that would break each promise.
CLAIMS = {
    "no DOM": (
        "document", "window", "navigator", "location", "localStorage", "sessionStorage",
        "HTMLElement", "Element", "Node", "customElements", "getComputedStyle", "matchMedia",
    ),
    "no network": ("fetch", "WebSocket", "XMLHttpRequest", "EventSource"),
    "no timers": ("setTimeout", "setInterval", "requestAnimationFrame", "requestIdleCallback"),
}  # fmt: skip
#: Keywords after which a ``/`` starts a regular expression rather than a division.
_BEFORE_REGEX = {"return", "typeof", "case", "do", "else", "in", "of", "void", "yield", "await"}
_WORD = re.compile(r"[\w$]+")
#: A regular expression's closing slash and its flags.
_CLOSING_SLASH = re.compile(r"/[a-z]*")


def _node() -> str:
    node = shutil.which("node")
    assert node is not None, "Node is needed for the web client's tests (scripts/test installs it)"
    return node


def node_check(source: str) -> subprocess.CompletedProcess[str]:
    """``node --check`` of ``source`` as an ES module."""
    return subprocess.run(
        [_node(), "--input-type=module", "--check"],
        input=source,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_module_of_the_client_is_checked() -> None:
    assert len(MODULES) >= 10, MODULES  # the glob found the client
    assert {path.name for path in MODULES} >= {"app.js", "client.js", "store.js"}


@pytest.mark.parametrize(
    "path",
    [*MODULES, *sorted(NODE_TESTS.glob("*.mjs"))],
    ids=lambda path: path.relative_to(ROOT).as_posix(),
)
def test_the_module_parses(path: Path) -> None:
    checked = node_check(path.read_text())
    assert checked.returncode == 0, f"{path.relative_to(ROOT)}:\n{checked.stderr}"


def test_a_syntax_error_after_an_import_is_caught() -> None:
    # What `node --check file.js` lets through (see the module's docstring).
    checked = node_check('import { api } from "./api.js";\nlet = ;\n')
    assert checked.returncode != 0
    assert "SyntaxError" in checked.stderr


def code_only(source: str) -> str:
    """``source`` with its comments, string literals and regular expressions blanked out
    (template literals' ``${...}`` kept: they are code)."""
    out: list[str] = []
    braces: list[int] = []  # for each template literal open around us: its ${ depth
    at, previous = 0, ""  # ``previous``: the last significant token, for the regex rule
    while at < len(source):
        char, ahead = source[at], source[at : at + 2]
        if ahead == "//":
            at = source.find("\n", at) if "\n" in source[at:] else len(source)
        elif ahead == "/*":
            at = source.index("*/", at + 2) + 2
        elif char in "'\"":
            at = _string_end(source, at, char)
            previous = "string"
        elif char == "`" or (char == "}" and braces and braces[-1] == 0):
            if char == "}":
                braces.pop()
            at, opened = _template_end(source, at + 1)
            if opened:
                braces.append(0)
            previous = "string"
        elif char == "/" and (previous in _BEFORE_REGEX or previous[-1:] in "(,=:[!&|?{};+-*%<>~^"):
            at = _regex_end(source, at)
            previous = "regex"
        else:
            if braces and char in "{}":
                braces[-1] += 1 if char == "{" else -1
            word = _WORD.match(source, at)
            token = word.group() if word else char
            out.append(token)
            at += len(token)
            if not token.isspace():
                previous = token
            continue
        out.append(" ")
    return "".join(out)


def _string_end(source: str, at: int, quote: str) -> int:
    at += 1
    while source[at] != quote:
        at += 2 if source[at] == "\\" else 1
    return at + 1


def _template_end(source: str, at: int) -> tuple[int, bool]:
    """Where a template literal's text (from ``at``) ends, and whether at a ``${``."""
    while source[at] != "`":
        if source[at] == "\\":
            at += 2
        elif source.startswith("${", at):
            return at + 2, True
        else:
            at += 1
    return at + 1, False


def _regex_end(source: str, at: int) -> int:
    at, in_class = at + 1, False
    while in_class or source[at] != "/":
        if source[at] == "\\":
            at += 1
        elif source[at] in "[]":
            in_class = source[at] == "["
        at += 1
    flags = _CLOSING_SLASH.match(source, at)
    assert flags is not None
    return flags.end()


def globals_used(source: str, names: tuple[str, ...]) -> list[str]:
    """Which of ``names`` the code uses as globals (not as a property: ``x.window``)."""
    code = code_only(source)
    return sorted({m.group(1) for m in re.finditer(rf"(?<![.\w$])({'|'.join(names)})\b", code)})


def header(source: str) -> str:
    """The module's opening comment."""
    lines = []
    for line in source.splitlines():
        if not line.startswith(("//", "/*", " *")):
            break
        lines.append(line)
    return " ".join(lines)


def test_the_check_sees_code_and_not_comments_strings_or_regexes() -> None:
    source = (
        "// window in a comment\n/* document */ const a = 'window' + \"document\";\n"
        "const b = /document/g.test(`window ${navigator.language} ${'location'}`);\n"
        "const c = x.window / 2 / document.title; const d = { f() { return fetch(u); } };\n"
    )
    names = (*CLAIMS["no DOM"], *CLAIMS["no network"])
    assert globals_used(source, names) == ["document", "fetch", "navigator"]


CLAIMING = [path for path in MODULES if any(claim in header(path.read_text()) for claim in CLAIMS)]


@pytest.mark.parametrize("path", CLAIMING, ids=lambda path: path.name)
def test_a_module_keeps_what_its_header_promises(path: Path) -> None:
    source = path.read_text()
    broken = {
        claim: used
        for claim, names in CLAIMS.items()
        if claim in header(source) and (used := globals_used(source, names))
    }
    assert broken == {}


def test_the_modules_that_promise_something_are_found() -> None:
    assert {path.name for path in CLAIMING} >= {"store.js", "changes.js", "token.js", "client.js"}
