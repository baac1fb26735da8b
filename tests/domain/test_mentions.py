"""Who a text mentions (domain/mentions.py): the documented syntax, on values."""

from __future__ import annotations

import pytest

from chatactors.domain.ids import UserId
from chatactors.domain.mentions import MAX_MENTION_MARKS, find_mentions

PARTICIPANTS = tuple(
    UserId(u) for u in ("alice", "bob", "Anna Maria", "Anna", "bob.", "all", "bot_user")
)


@pytest.mark.parametrize(
    ("text", "mentioned"),
    [
        ("hi @alice", ["alice"]),
        ("@alice, @bob! and @alice again", ["alice", "bob"]),
        ("@Anna Maria said", ["Anna Maria"]),  # the longest id that follows
        ("@Anna said", ["Anna"]),
        ("@bob. is an id, so is @bob", ["bob.", "bob"]),
        ("@[bob.] and @[Anna Maria]", ["bob.", "Anna Maria"]),
        ("@alicex @bob_ @Alice", []),  # a longer word, another case: no id
        ("mail bob@example.com or x@alice", []),  # an @ inside a word mentions nobody
        ("@carol @[carol] @[] @[alice", []),  # not participants; an unclosed bracket
        ("(@alice)", ["alice"]),
        ("@[all]", ["all"]),  # the user called "all"
    ],
)
def test_mentions_follow_the_documented_syntax(text: str, mentioned: list[str]) -> None:
    assert find_mentions(text, PARTICIPANTS, UserId("carol")) == tuple(mentioned)


def test_all_mentions_every_participant_but_the_author_in_chat_order() -> None:
    everyone = find_mentions("@all lunch?", PARTICIPANTS, UserId("bob"))
    assert everyone == tuple(u for u in PARTICIPANTS if u != "bob")
    assert find_mentions("@alldone", PARTICIPANTS, UserId("bob")) == ()


def test_the_author_is_never_among_the_mentions() -> None:
    assert find_mentions("note to @alice and @bob", PARTICIPANTS, UserId("alice")) == ("bob",)


def test_only_the_first_marks_are_looked_at() -> None:
    text = "@" * MAX_MENTION_MARKS + " @alice"
    assert find_mentions(text, PARTICIPANTS, UserId("carol")) == ()
    text = "@x " * (MAX_MENTION_MARKS - 1) + "@alice"
    assert find_mentions(text, PARTICIPANTS, UserId("carol")) == ("alice",)
