"""Words of a text as search sees them: one tokenizer for every store engine.

A *token* is a run of letters, digits and combining marks, folded: case-folded, Latin and
Greek letters without their accents (``Émilie`` → ``emilie``, ``straße`` → ``strasse``,
``ø`` → ``o``), compatibility forms unified (full-width ``\\uff21`` → ``a``, ``ﬁ`` → ``fi``).
Scripts written without spaces between words (Han, kana, Hangul, Thai, Lao, Khmer, Myanmar,
Tibetan) give one token per character, and a query word in them is searched as the phrase of
its characters: ``東京`` finds ``東京タワー`` and ``我在東京`` but not ``京東``.

Every engine indexes the tokens this module makes (SQLite FTS5 and PostgreSQL receive them
ready-made), so the three engines find the same messages, and highlights are exact: each token
knows where it lies in the original text, in code points.

The tokenizer is part of the index's schema: a change to what it produces for a text already
indexed needs a migration that rebuilds the index (SQLite removes a message's old tokens by
producing them again).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import attrs
import regex

#: Only this many characters of a message are searched (its beginning): the index stays
#: bounded for a message of megabytes (a pasted log), and so does the work of indexing it.
MAX_INDEXED_CHARS = 100_000
#: At most this many tokens of a message are indexed (PostgreSQL's tsvector holds 16,383
#: positions and a megabyte at most; 5,000 tokens of 32 characters stay below both).
MAX_INDEXED_TOKENS = 5_000
#: A longer token is indexed, and searched, by its first 32 characters.
MAX_TOKEN_CHARS = 32

#: Letters, digits and marks: what words are made of (anything else separates them).
_WORD = regex.compile(r"[\p{L}\p{N}\p{M}]+")
#: What :data:`_WORD` matches in ASCII text (no other ASCII character is a letter, a digit
#: or a mark).
_ASCII_WORD = re.compile(r"[a-z0-9]+")
#: Scripts written without spaces between words: one token per character.
_UNSPACED = regex.compile(
    r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\p{Bopomofo}\p{Thai}\p{Lao}\p{Khmer}"
    r"\p{Myanmar}\p{Tibetan}\u3005\u30FC]"  # 々 and ー belong to their neighbours' words
)
#: Scripts whose accents search ignores.
_ACCENTED = regex.compile(r"[\p{Latin}\p{Greek}]")
#: Latin letters that carry their diacritic in the letter itself (no decomposition).
_LETTERS = str.maketrans({
    "ø": "o", "ł": "l", "đ": "d", "ħ": "h", "\u0131": "i", "ŧ": "t", "ŀ": "l", "æ": "ae", "œ": "oe",
})  # fmt: skip


@attrs.frozen
class Token:
    """A folded word of a text and where it lies there: ``text[start:end]`` (code points)."""

    start: int
    end: int
    text: str


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``'s first :data:`MAX_INDEXED_CHARS` characters, at most
    :data:`MAX_INDEXED_TOKENS`, in order."""
    tokens: list[Token] = []
    for run in _WORD.finditer(text, 0, MAX_INDEXED_CHARS):
        word = run.group()
        start = run.start()
        if word.isascii():
            tokens.append(Token(start, run.end(), word[:MAX_TOKEN_CHARS].lower()))
        else:
            _fold_run(word, start, tokens)
        if len(tokens) >= MAX_INDEXED_TOKENS:
            del tokens[MAX_INDEXED_TOKENS:]
            break
    return tokens


def is_unspaced(token: str) -> bool:
    """Whether ``token`` is a character of a script written without spaces (a whole word)."""
    return len(token) == 1 and _UNSPACED.match(token) is not None


def words(text: str) -> list[str]:
    """The texts of ``text``'s tokens, as :func:`tokenize` makes them, without their places.
    Most messages are ASCII, where folding is lower-casing: those take a path of one regular
    expression (the same tokens, several times faster: every send indexes its message)."""
    head = text[:MAX_INDEXED_CHARS]
    if not head.isascii():
        return [token.text for token in tokenize(text)]
    found = _ASCII_WORD.findall(head.lower())
    del found[MAX_INDEXED_TOKENS:]
    return [word[:MAX_TOKEN_CHARS] for word in found]


def index_text(text: str) -> str:
    """What an engine indexes for ``text``: its tokens, separated by spaces."""
    return " ".join(words(text))


def _fold_run(word: str, offset: int, tokens: list[Token]) -> None:
    """Fold a run of word characters, splitting off each character of an unspaced script."""
    start = offset
    folded: list[str] = []
    accented = False  # the last base character is Latin or Greek: its marks are accents
    for index, char in enumerate(word, offset):
        if _UNSPACED.match(char):
            _add(tokens, start, index, folded)
            tokens.append(Token(index, index + 1, _fold_char(char)))
            start, folded, accented = index + 1, [], False
            continue
        if unicodedata.category(char) == "Mn":
            if not accented:
                folded.append(char)
            continue
        if not folded:
            start = index
        folded.append(_fold_char(char))
        accented = _ACCENTED.match(char) is not None
    _add(tokens, start, offset + len(word), folded)


def _add(tokens: list[Token], start: int, end: int, folded: list[str]) -> None:
    # Composed again: the same word typed precomposed or with combining marks folds alike.
    text = unicodedata.normalize("NFKC", "".join(folded))
    if text:
        tokens.append(Token(start, end, text[:MAX_TOKEN_CHARS]))


@lru_cache(maxsize=8192)
def _fold_char(char: str) -> str:
    """One character folded: case-folded, compatibility-decomposed, accents of Latin and Greek
    letters removed, recomposed (so Hangul syllables stay whole)."""
    decomposed = unicodedata.normalize("NFKD", char.casefold())
    if _ACCENTED.match(decomposed):
        decomposed = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return unicodedata.normalize("NFKC", decomposed).translate(_LETTERS).casefold()
