"""Mentions: who a text message names with ``@``.

The syntax (docs/API.md, "Mentions"):
- ``@alice``: the participant ``alice``. The ``@`` starts the text or follows a character that
  is not a letter, a digit or ``_`` (so ``bob@example.com`` mentions nobody), and the longest
  participant id that follows it counts, if a letter, a digit or ``_`` does not come right after
  it: ``@alice,`` and ``@alice.`` name ``alice``; ``@Anna Maria`` names ``Anna Maria`` if she
  takes part (else ``Anna``, if she does). Ids match exactly (case matters, as ids are).
- ``@[any id]``: the participant whose id is exactly what the brackets hold, for ids that the
  plain form cannot name (``@[bob.]``, an id with a ``]`` cannot be named).
- ``@all``: every participant but the author (``@[all]`` names a user called ``all``).

A message's mentions are its participants so named, in the order first named, without the
author. Only the first :data:`MAX_MENTION_MARKS` ``@`` of a text are looked at, so a text of
megabytes costs its chat no more than a short one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

from chatactors.domain.ids import UserId

#: The ``@`` signs of one text that are looked at, at most.
MAX_MENTION_MARKS = 1_000
#: How far a ``]`` is looked for after ``@[``: longer than any id.
_LONGEST_BRACKETED = 1_024
#: Mentions everyone in the chat but the author.
EVERYONE = "all"


def find_mentions(
    content: str, participants: Sequence[UserId], author: UserId
) -> tuple[UserId, ...]:
    """The ``participants`` that ``content`` mentions, in the order first named (``@all``:
    in the order of ``participants``), ``author`` left out."""
    if "@" not in content:
        return ()
    members = _Members.of(tuple(participants))
    found: dict[UserId, None] = {}
    at = content.find("@")
    marks = 0
    while at != -1 and marks < MAX_MENTION_MARKS:
        marks += 1
        if at == 0 or not _is_word(content[at - 1]):
            for user in members.named_at(content, at + 1):
                found[user] = None
        at = content.find("@", at + 1)
    found.pop(author, None)
    return tuple(found)


class _Members:
    """A chat's participants, indexed for finding mentions (made once per participant list)."""

    def __init__(self, ordered: tuple[UserId, ...]) -> None:
        self.ordered = ordered
        self.ids = frozenset(ordered)
        by_first: dict[str, list[UserId]] = {}
        for user in sorted(self.ids, key=len, reverse=True):  # the longest id first
            by_first.setdefault(user[:1], []).append(user)
        self.by_first: Mapping[str, list[UserId]] = by_first

    @staticmethod
    @lru_cache(maxsize=256)
    def of(participants: tuple[UserId, ...]) -> _Members:
        return _Members(participants)

    def named_at(self, content: str, start: int) -> Iterable[UserId]:
        """Who the ``@`` before ``start`` names: nobody, one participant, or everyone."""
        if content.startswith("[", start):
            close = content.find("]", start + 1, start + 2 + _LONGEST_BRACKETED)
            if close != -1:
                named = UserId(content[start + 1 : close])
                return (named,) if named in self.ids else ()
        if content.startswith(EVERYONE, start) and _ends_word(content, start + len(EVERYONE)):
            return self.ordered
        return self._plain(content, start)

    def _plain(self, content: str, start: int) -> Iterable[UserId]:
        for user in self.by_first.get(content[start : start + 1], ()):
            if content.startswith(user, start) and _ends_word(content, start + len(user)):
                return (user,)
        return ()


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _ends_word(content: str, end: int) -> bool:
    return end >= len(content) or not _is_word(content[end])
