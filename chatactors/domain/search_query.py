"""A search query: what the user typed, parsed into terms that every engine matches alike.

The language (docs/API.md, "Search"), with no operator that could fail:
- words: every word must match (``lunch friday``); case and Latin accents do not matter;
- ``"exact phrases"``: the words in that order, next to each other (an unclosed quote runs to
  the end of the query); ``"exact phr"*``: its last word as a prefix;
- ``prefix*``: any word that starts so (``conf*`` finds ``conference``), at least 2 characters
  (``a*``: 422; ``東*`` is ``東``: each such character is a word); a ``*`` elsewhere,
  ``AND``/``OR``/``NOT``/``NEAR``, parentheses, colons and the like are plain text: words are
  made of letters and digits only, and everything else separates them;
- a word that the tokenizer splits (``e-mail``, ``3.14``, ``東京``) is searched as a phrase.

``parse_query`` raises ``InvalidInput`` (422) for a query with nothing to search for, or too
long; it never produces anything an engine could reject. Matching, highlights and a relevance
score for the memory engine are here too, on tokens (``search_text``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import attrs

from chatactors.domain.errors import InvalidInput
from chatactors.domain.search_text import Token, is_unspaced, tokenize

#: The longest query, in characters.
MAX_QUERY_CHARS = 1_000
#: The most words a query may hold (a phrase counts its words).
MAX_QUERY_TOKENS = 32
#: The shortest prefix (``co*``): a shorter one would match a good part of all the words.
MIN_PREFIX_CHARS = 2


@attrs.frozen
class Term:
    """Consecutive tokens that must occur in this order; the last one as a prefix if
    ``prefix``. One token: a word."""

    tokens: tuple[str, ...]
    prefix: bool = False

    def matches_at(self, tokens: Sequence[Token], index: int) -> bool:
        mine = self.tokens
        if index + len(mine) > len(tokens):
            return False
        last = len(mine) - 1
        for offset, wanted in enumerate(mine):
            found = tokens[index + offset].text
            if offset == last and self.prefix:
                if not found.startswith(wanted):
                    return False
            elif found != wanted:
                return False
        return True

    def occurrences(self, tokens: Sequence[Token]) -> list[int]:
        """Where the term starts in ``tokens``."""
        return [i for i in range(len(tokens)) if self.matches_at(tokens, i)]

    def count(self, words: Sequence[str]) -> int:
        """How many times the term occurs in ``words`` (a text's token texts, as
        ``search_text.words`` gives them): ``len(occurrences)`` without making tokens."""
        first, rest = self.tokens[0], self.tokens[1:]
        if not rest:
            if self.prefix:
                return sum(1 for word in words if word.startswith(first))
            return words.count(first)
        found = 0
        *middle, last = rest
        for index in range(len(words) - len(rest)):
            if words[index] != first:
                continue
            following = words[index + 1 : index + 1 + len(rest)]
            if list(following[:-1]) == middle and (
                following[-1].startswith(last) if self.prefix else following[-1] == last
            ):
                found += 1
        return found


@attrs.frozen
class SearchQuery:
    """Every term must match."""

    terms: tuple[Term, ...]

    def matches(self, tokens: Sequence[Token]) -> bool:
        return all(term.occurrences(tokens) for term in self.terms)

    def highlights(self, content: str) -> list[tuple[int, int]]:
        """Where the terms match in ``content``: ``[start, end)`` in code points, in order,
        overlapping spans merged (a phrase is one span)."""
        tokens = tokenize(content)
        spans = sorted(
            (tokens[i].start, tokens[i + len(term.tokens) - 1].end)
            for term in self.terms
            for i in term.occurrences(tokens)
        )
        merged: list[tuple[int, int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged


def parse_query(q: str) -> SearchQuery:
    """The terms of ``q``. Raises ``InvalidInput`` when it holds no word, or too many."""
    if len(q) > MAX_QUERY_CHARS:
        raise InvalidInput(f"q is longer than {MAX_QUERY_CHARS} characters")
    terms: dict[Term, None] = {}
    for chunk, starred in _chunks(q):
        tokens = tuple(token.text for token in tokenize(chunk))
        if tokens:
            prefix = starred and _ends_in_word(chunk.rstrip("*"))
            if prefix and len(tokens[-1]) < MIN_PREFIX_CHARS:
                if not is_unspaced(tokens[-1]):
                    raise InvalidInput(
                        f"a prefix needs at least {MIN_PREFIX_CHARS} characters before the *:"
                        f" {chunk!r}"
                    )
                prefix = False  # one character of an unspaced script is a whole word
            terms[Term(tokens, prefix)] = None
    if not terms:
        raise InvalidInput("q has no words to search for (words are letters and digits)")
    if sum(len(term.tokens) for term in terms) > MAX_QUERY_TOKENS:
        raise InvalidInput(f"q has more than {MAX_QUERY_TOKENS} words")
    return SearchQuery(tuple(terms))


def _chunks(q: str) -> Iterable[tuple[str, bool]]:
    """``(text, starred)``: each quoted phrase and each space-separated chunk outside quotes,
    and whether a ``*`` ends it (for a phrase: right after its closing quote)."""
    parts = q.split('"')
    for index, part in enumerate(parts):
        if index % 2:
            following = parts[index + 1] if index + 1 < len(parts) else ""
            yield part, index + 1 < len(parts) and following.startswith("*")
        else:
            for chunk in part.split():
                yield chunk, chunk.endswith("*")


def _ends_in_word(text: str) -> bool:
    """``conf*`` is a prefix; ``conf.*`` or ``*`` alone are not (the ``*`` follows no word)."""
    return bool(text) and bool(tokenize(text[-1]))


def bm25(
    term_counts: Sequence[int],
    length: int,
    *,
    documents: int,
    average_length: float,
    document_frequencies: Sequence[int],
) -> float:
    """Okapi BM25 (k1 1.2, b 0.75, as SQLite's ``bm25()``) of a message with ``term_counts``
    occurrences of each term and ``length`` tokens, among ``documents`` messages."""
    score = 0.0
    for count, frequency in zip(term_counts, document_frequencies, strict=True):
        idf = math.log(1 + (documents - frequency + 0.5) / (frequency + 0.5))
        norm = 1.2 * (0.25 + 0.75 * length / max(average_length, 1.0))
        score += idf * count * 2.2 / (count + norm)
    return score
