"""The constrained values of the API (user ids, contents, titles, emoji, ...), each named once:
its ``Annotated`` alias for the wire types, and its JSON Schema made from the serving app's
limits, saying what the rule that checks it accepts.

The rules themselves are the domain's (domain/rules.py and the actor's): they run on every
path, sockets included, and their messages are the API's error details. A wire type names a
kind with an alias below (``user_id: UserIdText``), which the OpenAPI document shows as a
``$ref`` to the kind's schema in its components (web/openapi.py puts :func:`value_schemas`
there). tests/web/test_value_schemas.py checks, value by value, that each schema accepts what
its rule accepts, and refuses what it refuses.

Patterns are written for both Python's ``re`` and ECMA-262 (what JSON Schema names): ``\\uXXXX``
escapes in the Basic Multilingual Plane, characters above it as themselves.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from typing import Annotated, Any

import msgspec
import regex

from chatactors.domain.ids import BOT_USER
from chatactors.domain.search_query import MAX_QUERY_CHARS, MAX_QUERY_TOKENS
from chatactors.settings import Settings
from chatactors.storage.media.formats import MEDIA_ID

Schema = dict[str, Any]

#: Where a ``$ref`` finds a named schema in the OpenAPI document.
REF_TEMPLATE = "#/components/schemas/{name}"


def _kind(name: str) -> msgspec.Meta:
    return msgspec.Meta(extra_json_schema={"$ref": REF_TEMPLATE.format(name=name)})


UserIdText = Annotated[str, _kind("UserId")]
Participants = Annotated[list[str], _kind("Participants")]
NewMembers = Annotated[list[str], _kind("NewMembers")]
ContentText = Annotated[str, _kind("Content")]
TitleText = Annotated[str, _kind("Title")]
ClientMessageIdText = Annotated[str, _kind("ClientMessageId")]
MessageIdText = Annotated[str, _kind("MessageId")]
ChatIdText = Annotated[str, _kind("ChatId")]
MediaIdText = Annotated[str, _kind("MediaId")]
EmojiText = Annotated[str, _kind("Emoji")]
MemberText = Annotated[str, _kind("Member")]
BotAssetName = Annotated[str, msgspec.Meta(description="A bundled file of the bot, by name.")]
PageLimit = Annotated[int, _kind("PageLimit")]
SearchText = Annotated[str, _kind("SearchText")]
SearchLimit = Annotated[int, _kind("SearchLimit")]
#: ``before_seq``, ``after_seq``: a position in the chat's numbering (msgspec checks it).
Seq = Annotated[int, msgspec.Meta(ge=0)]


# -- character classes -------------------------------------------------------------------------


def _runs(codes: Iterable[int]) -> Iterator[tuple[int, int]]:
    """Consecutive code points as (first, last) runs."""
    first = last = -2
    for code in codes:
        if code != last + 1:
            if first >= 0:
                yield first, last
            first = code
        last = code
    if first >= 0:
        yield first, last


def _char(code: int) -> str:
    """One code point in a character class: letters and digits as themselves, the rest of the
    Basic Multilingual Plane escaped (ECMA-262's Unicode mode allows no other escapes of
    punctuation), and characters above it as themselves."""
    if code > 0xFFFF or (chr(code).isascii() and chr(code).isalnum()):
        return chr(code)
    return f"\\u{code:04x}"


def _class(codes: Iterable[int]) -> str:
    parts = (_char(a) if a == b else f"{_char(a)}-{_char(b)}" for a, b in _runs(sorted(set(codes))))
    return "[" + "".join(parts) + "]"


#: The end of the text, in Python's ``re`` as in ECMA-262 (``$`` in Python also matches before
#: a last newline, so ``"alice\\n"`` would pass for a user id there).
_END = "(?![\\s\\S])"


def _whole(pattern: str) -> str:
    """``pattern`` matching the whole text (JSON Schema's patterns search within it)."""
    return f"^(?:{pattern}){_END}"


def _code_points(keep: Callable[[str], bool]) -> list[int]:
    return [code for code in range(0x110000) if keep(chr(code))]


def _other(char: str) -> bool:
    """Unicode's category C: control, format, surrogate, private use, unassigned."""
    return unicodedata.category(char)[0] == "C"


@functools.cache
def _not_blank(allowed: str) -> str:
    """A pattern: one or more characters of the class ``allowed``, not all of them whitespace
    (``str.strip`` would leave nothing; the whitespace that ``allowed`` holds suffices)."""
    spaces = _class(code for code in range(0x110000) if chr(code).isspace())
    return _whole(f"(?!{spaces}*{_END}){allowed}+")


@functools.cache
def user_id_pattern() -> str:
    """Printable characters (none of category C), not all whitespace: check_user_id's rule."""
    return _not_blank(_class(_code_points(lambda char: not _other(char))))


#: Any character but the C0 and C1 controls (category Cc), which a title must not hold.
_NOT_CONTROL = "[^\\u0000-\\u001f\\u007f-\\u009f]"


@functools.cache
def emoji_pattern() -> str:
    """The common forms of one emoji that check_emoji accepts: a flag (two regional
    indicators), a keycap, or pictographs joined by ZWJ, each with variation selectors, skin
    tones or tag characters. (Any one grapheme cluster holding an emoji is accepted; the rarer
    forms are left out of the pattern rather than described loosely.)"""
    every_character = "".join(map(chr, range(0x110000)))
    found = regex.findall(r"\p{Extended_Pictographic}", every_character)
    pictographs = _class(ord(char) for char in found)
    indicators = "[\U0001f1e6-\U0001f1ff]"
    marks = "[\\ufe0e\\ufe0f\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f]"
    sequence = f"{pictographs}{marks}*(?:\\u200d{pictographs}{marks}*)*"
    return _whole(f"{indicators}{indicators}|[0-9#*]\\ufe0f?\\u20e3|{sequence}")


# -- the schemas --------------------------------------------------------------------------------


def value_schemas(settings: Settings) -> dict[str, Schema]:
    """Every kind's schema, with the limits of the app that serves the document."""
    limits = settings.limits
    user_id = {
        "description": (
            "A user id: 1 to max_id_length characters, not all whitespace, none a control, "
            "format, private-use or unassigned character (Unicode category C)."
        ),
        "type": "string",
        "minLength": 1,
        "maxLength": limits.max_id_length,
        "pattern": user_id_pattern(),
    }
    user_ids = {"type": "array", "items": {"$ref": REF_TEMPLATE.format(name="UserId")}}
    return {
        "UserId": user_id,
        "Participants": {
            **user_ids,
            "description": (
                "The people of a new chat: bot_user joins every chat and is not counted; "
                "repeated ids count once (so a longer list with repeats is accepted too)."
            ),
            "minItems": 1,
            "maxItems": limits.max_participants,
        },
        "NewMembers": {
            **user_ids,
            "description": (
                "People to add: those in the chat already change nothing; the chat holds "
                "max_participants at most (more: 422)."
            ),
            "minItems": 1,
        },
        "Member": {
            "description": (
                f"A member of the chat (a user id). {BOT_USER} stays in every chat; '.' and "
                "'..' are URL dot-segments that clients remove (send them percent-encoded)."
            ),
            "allOf": [{"$ref": REF_TEMPLATE.format(name="UserId")}],
            "not": {"enum": [BOT_USER, ".", ".."]},
        },
        "Content": {
            "description": (
                "A message's content: text, or the URL of an image or audio file. A URL of "
                "this server's /media/ must name an upload (else 422)."
            ),
            "type": "string",
            "minLength": 1,
            "maxLength": limits.max_content_chars,
        },
        "Title": {
            "description": "A chat's title: one line, not all whitespace, no control characters.",
            "type": "string",
            "maxLength": limits.max_title_chars,
            "pattern": _not_blank(_NOT_CONTROL),
        },
        "ClientMessageId": {
            "description": (
                "The client's id for a send: a retry with the same id (same chat and user) "
                "answers the first message and creates nothing."
            ),
            "type": "string",
            "minLength": 1,
            "maxLength": limits.max_id_length,
        },
        "ChatId": {
            "description": "A chat's id, as the server gave it.",
            "type": "string",
            "format": "uuid",
        },
        "MessageId": {
            "description": "A message's id, as the server gave it.",
            "type": "string",
            "format": "uuid",
        },
        "MediaId": {
            "description": "An upload's id: the SHA-256 of its bytes and its extension.",
            "type": "string",
            "pattern": _whole(MEDIA_ID.pattern),
        },
        "Emoji": {
            "description": (
                "A reaction: one emoji (one grapheme cluster holding an emoji, as sent: 👍, 👍🏽, "
                "🇫🇷, 1️⃣, 👨‍👩‍👧) or a short name such as :thumbsup: (1-32 of a-z 0-9 _ + -)."
            ),
            "type": "string",
            "anyOf": [
                {"pattern": _whole(":[a-z0-9_+\\-]{1,32}:")},
                {"pattern": emoji_pattern(), "maxLength": 16},
            ],
        },
        "PageLimit": {
            "description": "Messages in one page (by default max_history_page, the most).",
            "type": "integer",
            "minimum": 1,
            "maximum": settings.max_history_page,
        },
        "SearchText": {
            "description": (
                "What to search for: words (letters and digits, in any script; case and "
                'accents aside), "a phrase" in quotes, a prefix* of 2 characters or more; at '
                f"most {MAX_QUERY_TOKENS} words. A query with no word, or a shorter prefix, is "
                "refused (422)."
            ),
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_QUERY_CHARS,
        },
        "SearchLimit": {
            "description": "Results in one page (by default 20; max_search_results at most).",
            "type": "integer",
            "minimum": 1,
            "maximum": settings.max_search_results,
        },
    }
