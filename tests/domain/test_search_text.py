"""The tokenizer and the query language every engine shares (domain/search_text.py,
domain/search_query.py): pure functions, so tested on values."""

from __future__ import annotations

import pytest

from chatactors.domain.errors import InvalidInput
from chatactors.domain.search_query import (
    MAX_QUERY_CHARS,
    MAX_QUERY_TOKENS,
    SearchQuery,
    Term,
    parse_query,
)
from chatactors.domain.search_text import (
    MAX_INDEXED_CHARS,
    MAX_INDEXED_TOKENS,
    MAX_TOKEN_CHARS,
    index_text,
    tokenize,
    words,
)


@pytest.mark.parametrize(
    ("text", "indexed"),
    [
        ("Café crème, Émilie!", "cafe creme emilie"),
        ("STRASSE straße Øresund Łódź Ærø", "strasse strasse oresund lodz aero"),
        ("e\u0301te\u0301 été", "ete ete"),  # combining accents or precomposed: the same
        ("Ｆｕｌｌ ﬁne İstanbul", "full fine istanbul"),  # noqa: RUF001
        ("Ελληνικά ελληνικα", "ελληνικα ελληνικα"),
        ("и\u0306од йод", "йод йод"),  # noqa: RUF001 (Cyrillic keeps its letters, in either form)
        ("東京タワー", "東 京 タ ワ ー"),
        ("서울에서", "서 울 에 서"),  # Hangul syllables stay whole
        ("don't 3.14 snake_case a-b", "don t 3 14 snake case a b"),
        ("AND OR NOT NEAR ( ) * : ^ \" '", "and or not near"),
        ("", ""),
        ("... --- !!!", ""),
    ],
)
def test_tokens_are_folded_words(text: str, indexed: str) -> None:
    assert index_text(text) == indexed


def test_each_token_knows_where_it_lies_in_the_original_text() -> None:
    text = "¡Hola, Émilie! 東京 e\u0301te\u0301"
    assert [(text[t.start : t.end], t.text) for t in tokenize(text)] == [
        ("Hola", "hola"),
        ("Émilie", "emilie"),
        ("東", "東"),
        ("京", "京"),
        ("e\u0301te\u0301", "ete"),
    ]


def test_a_long_text_is_indexed_by_its_beginning_and_long_words_by_theirs() -> None:
    assert len(tokenize("word " * (MAX_INDEXED_TOKENS + 10))) == MAX_INDEXED_TOKENS
    assert tokenize(" " * MAX_INDEXED_CHARS + "late") == []
    assert tokenize("x" * 100)[0].text == "x" * MAX_TOKEN_CHARS


@pytest.mark.parametrize(
    "text",
    [
        "Hello, World! 3.14 snake_case e-mail ~`!@#$%^&*()[]{}|\\;:'\",<>/?\t\n\x00\x7f",
        "MiXeD CaSe " + "x" * 100 + " tail",
        "word " * (MAX_INDEXED_TOKENS + 10),
        "a" * (MAX_INDEXED_CHARS - 2) + " bcd" + " after",  # a word cut at the end
        "ascii, then café",
        "",
    ],
)
def test_words_are_the_tokens_texts_whatever_path_makes_them(text: str) -> None:
    """ASCII text takes a faster path (words): the index must hold exactly what tokenize
    makes, or a message would be found by some engines and not others."""
    assert words(text) == [token.text for token in tokenize(text)]


def test_every_ascii_character_separates_or_joins_words_as_the_tokenizer_says() -> None:
    for code in range(128):
        text = f"ab{chr(code)}cd"
        assert words(text) == [token.text for token in tokenize(text)], code


@pytest.mark.parametrize(
    ("q", "terms"),
    [
        ("Lunch FRIDAY", [Term(("lunch",)), Term(("friday",))]),
        ('"exact  Phrase" word', [Term(("exact", "phrase")), Term(("word",))]),
        ("conf* café", [Term(("conf",), prefix=True), Term(("cafe",))]),
        ("e-mail 3.14", [Term(("e", "mail")), Term(("3", "14"))]),
        ("東京", [Term(("東", "京"))]),
        ('"unclosed phrase', [Term(("unclosed", "phrase"))]),
        ("cats OR dogs", [Term(("cats",)), Term(("or",)), Term(("dogs",))]),
        ("NEAR(a b) col:x ^start", [Term(("near", "a")), Term(("b",)), Term(("col", "x")),
                                     Term(("start",))]),
        ("word word", [Term(("word",))]),
        ('"quoted*"', [Term(("quoted",))]),  # no prefix inside quotes
        ('"two wor"* "two"', [Term(("two", "wor"), prefix=True), Term(("two",))]),
        ("half-wo*", [Term(("half", "wo"), prefix=True)]),
        ("東*", [Term(("東",))]),  # one character of an unspaced script is a whole word
    ],
)  # fmt: skip
def test_a_query_is_words_phrases_and_prefixes(q: str, terms: list[Term]) -> None:
    assert parse_query(q) == SearchQuery(tuple(terms))


@pytest.mark.parametrize(
    ("q", "detail"),
    [
        ("", "no words"),
        ("*", "no words"),
        ('""', "no words"),
        ("   !!! --- ", "no words"),
        ("a*", "at least 2 characters"),
        ("x" * (MAX_QUERY_CHARS + 1), "longer than"),
        (" ".join(f"w{i}" for i in range(MAX_QUERY_TOKENS + 1)), "more than"),
    ],
)
def test_a_query_with_nothing_to_search_or_too_much_is_refused(q: str, detail: str) -> None:
    with pytest.raises(InvalidInput, match=detail):
        parse_query(q)


def test_matches_needs_every_term_phrases_in_order_and_prefixes_at_word_starts() -> None:
    tokens = tokenize("Meet at the Conference on Friday, Émilie")
    assert parse_query("friday emilie").matches(tokens)
    assert parse_query('"the conference"').matches(tokens)
    assert not parse_query('"conference the"').matches(tokens)
    assert parse_query("confer*").matches(tokens)
    assert not parse_query("ference*").matches(tokens)
    assert not parse_query("friday monday").matches(tokens)


def test_highlights_are_code_point_spans_of_every_match() -> None:
    content = "😀 Café, café and CAFÉS; the café crème"
    spans = parse_query('café "café crème"').highlights(content)
    assert [content[start:end] for start, end in spans] == ["Café", "café", "café crème"]
    prefix = parse_query("caf*").highlights(content)
    assert [content[start:end] for start, end in prefix] == ["Café", "café", "CAFÉS", "café"]


@pytest.mark.parametrize(
    "q", ["apple", "ap*", '"apple pie"', '"apple pie"*', '"pie apple apple"', "東京", "x"]
)
@pytest.mark.parametrize(
    "text",
    ["apple pie apple apple pie", "apples pie, apple: pied piper", "東京 京東 東京東", "", "x"],
)
def test_a_terms_count_in_words_is_its_occurrences_in_tokens(q: str, text: str) -> None:
    """Relevance counts terms on words alone (storage/search.py): as many as highlights find."""
    for term in parse_query(q).terms:
        assert term.count(words(text)) == len(term.occurrences(tokenize(text))), term
