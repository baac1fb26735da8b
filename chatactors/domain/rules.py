"""Value rules that hold whatever the chat's state: ids, participant lists, content size."""

from __future__ import annotations

import unicodedata

import attrs
import regex

from chatactors.domain.errors import InvalidInput
from chatactors.domain.ids import BOT_USER, UserId
from chatactors.domain.models import ChatKind


@attrs.frozen(kw_only=True)
class Limits:
    """The value limits of Settings (chatactors/settings.py, where their defaults are)."""

    max_id_length: int
    max_participants: int
    max_content_chars: int
    max_title_chars: int = 200


def check_user_id(user_id: str, limits: Limits, *, field: str = "user_id") -> UserId:
    """A user id is 1..max_id_length printable characters, not blank, without control characters."""
    if not user_id or not user_id.strip():
        raise InvalidInput(f"{field} must not be empty")
    if len(user_id) > limits.max_id_length:
        raise InvalidInput(f"{field} is longer than {limits.max_id_length} characters")
    if any(unicodedata.category(ch)[0] == "C" for ch in user_id):
        raise InvalidInput(f"{field} must not contain control characters")
    return UserId(user_id)


def normalise_participants(sent: list[str], limits: Limits) -> tuple[UserId, ...]:
    """De-duplicate in the order sent and add ``bot_user`` once at the end."""
    if not sent:
        raise InvalidInput("participants must name at least one user")
    unique: dict[UserId, None] = {}
    for index, user_id in enumerate(sent):
        unique[check_user_id(user_id, limits, field=f"participants[{index}]")] = None
    unique.pop(BOT_USER, None)
    if len(unique) > limits.max_participants:
        raise InvalidInput(f"a chat has at most {limits.max_participants} participants")
    return (*unique, BOT_USER)


def chat_kind(participants: tuple[UserId, ...], *, title: str | None, group: bool) -> ChatKind:
    """A chat of exactly two people (``bot_user`` aside), without a title, and not asked to be
    a ``group``, is one-to-one; any other is a group."""
    people = [user for user in participants if user != BOT_USER]
    if len(people) == 2 and title is None and not group:
        return ChatKind.DIRECT
    return ChatKind.GROUP


def check_new_members(sent: list[str], limits: Limits) -> tuple[UserId, ...]:
    """Users to add to a chat: at least one, checked, de-duplicated in the order sent;
    ``bot_user`` (in every chat already) dropped."""
    if not sent:
        raise InvalidInput("participants must name at least one user to add")
    unique: dict[UserId, None] = {}
    for index, user_id in enumerate(sent):
        unique[check_user_id(user_id, limits, field=f"participants[{index}]")] = None
    unique.pop(BOT_USER, None)
    return tuple(unique)


def check_title(title: str | None, limits: Limits) -> str | None:
    """A title is 1..max_title_chars characters, not blank, without control characters (a
    title is one line); None clears it."""
    if title is None:
        return None
    if not title.strip():
        raise InvalidInput("title must not be empty (null clears it)")
    if len(title) > limits.max_title_chars:
        raise InvalidInput(f"title is longer than {limits.max_title_chars} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in title):
        raise InvalidInput("title must not contain control characters")
    return title


def check_content(content: str, limits: Limits) -> str:
    if not content:
        raise InvalidInput("content must not be empty")
    if len(content) > limits.max_content_chars:
        raise InvalidInput(f"content is longer than {limits.max_content_chars} characters")
    return content


#: A short name, as Slack and Mattermost spell their emoji (``:thumbsup:``, ``:+1:``).
_EMOJI_NAME = regex.compile(r":[a-z0-9_+\-]{1,32}:")
#: One extended grapheme cluster (Unicode UAX #29): what a reader sees as one character.
_ONE_CLUSTER = regex.compile(r"\X")
#: What makes a cluster an emoji: a pictograph, a flag's regional indicators, or a keycap.
_EMOJI_PART = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}\u20E3]")
#: The longest emoji Unicode recommends (a couple with skin tones) has 10 code points; the
#: bound keeps out clusters that only look like one (an emoji under a pile of accents).
MAX_EMOJI_CODE_POINTS = 16


def check_emoji(emoji: str) -> str:
    """A reaction key is one emoji, exactly as sent (``👍``, ``👍🏽``, ``🇫🇷``, ``1️⃣``,
    ``👨‍👩‍👧``: one grapheme cluster holding an emoji code point), or a short name
    ``:name:`` (1-32 of ``a-z 0-9 _ + -``). Two spellings of one emoji (``❤`` and ``❤️``)
    are two keys: clients send the fully qualified form."""
    if _EMOJI_NAME.fullmatch(emoji):
        return emoji
    if (
        not emoji
        or len(emoji) > MAX_EMOJI_CODE_POINTS
        or not _ONE_CLUSTER.fullmatch(emoji)
        or not _EMOJI_PART.search(emoji)
        or any(unicodedata.category(ch) in ("Cc", "Cs") for ch in emoji)
    ):
        raise InvalidInput(
            "a reaction is one emoji (one grapheme cluster, such as 👍 or 🇫🇷) or a short "
            "name such as :thumbsup: (1-32 of a-z, 0-9, _, +, -)"
        )
    return emoji
