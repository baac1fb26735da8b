"""Each constrained value's JSON Schema (web/value_schemas.py) accepts what the rule that checks
it accepts, and refuses what it refuses: the document is as strict as the server, no stricter
(for the emoji, whose rule no regular expression states, the schema accepts only what the rule
does). Checked with jsonschema-rs, a validator independent of Python's ``re``."""

from __future__ import annotations

import functools
import json
import random
import re
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from chatactors.domain.errors import InvalidInput
from chatactors.domain.ids import BOT_USER
from chatactors.domain.models import MessageType
from chatactors.domain.rules import (
    check_content,
    check_emoji,
    check_title,
    check_user_id,
    normalise_participants,
)
from chatactors.web.chats_api import check_client_message_id, message_page
from chatactors.web.value_schemas import REF_TEMPLATE, emoji_pattern, value_schemas
from chatactors.web.wire import MessagesQuery, PostMessageBody
from tests.conftest import make_settings

SETTINGS = make_settings(
    max_id_length=12,
    max_participants=3,
    max_content_chars=20,
    max_title_chars=15,
    max_history_page=50,
)
LIMITS = SETTINGS.limits
PAGE = SETTINGS.max_history_page
SCHEMAS = value_schemas(SETTINGS)


@functools.cache
def valid_for(kind: str) -> Callable[[Any], bool]:
    """A validator of the kind's schema, its ``$ref``s resolved against the others."""
    return jsonschema_rs.validator_for(_relocated({"$defs": SCHEMAS, **SCHEMAS[kind]})).is_valid


def _relocated(schema: Any) -> Any:
    """The schema with ``#/components/schemas/X`` refs pointing at ``#/$defs/X``."""
    prefix = REF_TEMPLATE.format(name="")
    if isinstance(schema, dict):
        return {
            key: (value.replace(prefix, "#/$defs/") if key == "$ref" else _relocated(value))
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_relocated(value) for value in schema]
    return schema


def accepted(rule: Callable[[], object]) -> bool:
    try:
        rule()
    except InvalidInput:
        return False
    return True


#: Text with what the rules care about: whitespace of every kind, controls, format characters,
#: unassigned and private-use code points, and plenty of ordinary letters.
TRICKY = (
    " \t\n\x0b\x1c\x85\xa0\u1680\u2000\u2028\u202f\u3000\u200b\u200d\ufeff\u0378\ue000\U000f0000"
)
texts = st.text(
    alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from(TRICKY)), max_size=24
)


@given(texts)
@example(" ")
@example("\u3000a")
@example("a\u200b")
@example("x" * 12)
@example("x" * 13)
def test_user_id(text: str) -> None:
    assert valid_for("UserId")(text) == accepted(lambda: check_user_id(text, LIMITS))


@given(texts)
@example("\u2028")
@example("a\u2028b")
@example("\x85")
def test_title(text: str) -> None:
    assert valid_for("Title")(text) == accepted(lambda: check_title(text, LIMITS))


@given(texts)
@example("")
@example("x" * 20)
@example("x" * 21)
def test_content(text: str) -> None:
    assert valid_for("Content")(text) == accepted(lambda: check_content(text, LIMITS))


@given(texts)
def test_client_message_id(text: str) -> None:
    body = PostMessageBody("alice", MessageType.TEXT, "hi", client_message_id=text)
    rule = accepted(lambda: check_client_message_id(body, LIMITS))
    assert valid_for("ClientMessageId")(text) == rule


@given(st.integers(-5, PAGE + 5))
def test_page_limit(limit: int) -> None:
    rule = accepted(lambda: message_page(MessagesQuery(limit=limit), PAGE))
    assert valid_for("PageLimit")(limit) == rule


@given(st.lists(texts, max_size=5))
@example([])
@example(["a", "a", "a", "a"])
def test_participants(users: list[str]) -> None:
    """Exact for distinct ids; with repeats (counted once) the rule accepts longer lists."""
    valid = valid_for("Participants")(users)
    rule = accepted(lambda: normalise_participants(users, LIMITS))
    assert valid <= rule
    if len(set(users)) == len(users) and BOT_USER not in users:
        assert valid == rule


@given(texts)
@example(BOT_USER)
@example("..")
def test_member(text: str) -> None:
    member_rule = accepted(lambda: check_user_id(text, LIMITS)) and text != BOT_USER
    assert valid_for("Member")(text) <= member_rule


@pytest.mark.parametrize(
    "emoji",
    ["👍", "👍🏽", "🇫🇷", "1️⃣", "👨\u200d👩\u200d👧", "❤️", "🏴\U000e0067\U000e0062\U000e007f"],
)
def test_common_emoji_are_documented(emoji: str) -> None:
    assert valid_for("Emoji")(emoji)
    check_emoji(emoji)


@given(
    st.one_of(
        st.from_regex(emoji_pattern(), fullmatch=True),
        st.from_regex(r"\A:[a-z0-9_+\-]{1,32}:\Z"),
        texts,
    )
)
def test_emoji(text: str) -> None:
    if valid_for("Emoji")(text):
        check_emoji(text)


def _patterns(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        own = [schema["pattern"]] if "pattern" in schema else []
        return own + [p for value in schema.values() for p in _patterns(value)]
    if isinstance(schema, list):
        return [p for value in schema for p in _patterns(value)]
    return []


def test_the_patterns_read_the_same_in_ecma_262() -> None:
    """JSON Schema's patterns are ECMA-262 regular expressions: Node, in Unicode mode (as JSON
    Schema validators compile them), answers each sample as Python's ``re`` does."""
    node = shutil.which("node")
    assert node is not None, "Node is needed (scripts/test installs it)"
    chance = random.Random(26)
    characters = [*TRICKY, *"aZ09 :_-+#*.", *"👍🏽🇫🇷\u20e3\ufe0f\u200d", *"éß漢😀"]
    samples = ["alice", "alice\n", ":ok:", ":ok:\n", "👍", "1️⃣", "a" * 64 + ".png", ""]
    samples += ["".join(chance.choices(characters, k=chance.randint(1, 6))) for _ in range(400)]
    patterns = sorted(set(_patterns(SCHEMAS)))
    script = (
        "const {patterns, samples} = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "console.log(JSON.stringify(patterns.map("
        "p => samples.map(s => new RegExp(p, 'u').test(s)))));"
    )
    ran = subprocess.run(
        [node, "-e", script],
        input=json.dumps({"patterns": patterns, "samples": samples}),
        capture_output=True,
        text=True,
        check=True,
    )
    in_node = json.loads(ran.stdout)
    in_python = [[re.search(p, s) is not None for s in samples] for p in patterns]
    assert len(patterns) >= 5
    assert in_node == in_python
