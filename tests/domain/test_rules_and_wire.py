"""The pure domain: value rules and the timestamp format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from chatactors.domain.clock import format_timestamp, from_epoch_ms, to_epoch_ms
from chatactors.domain.errors import InvalidInput
from chatactors.domain.rules import Limits, check_content, check_user_id, normalise_participants

LIMITS = Limits(max_id_length=8, max_participants=3, max_content_chars=10)
MOMENT = datetime(2026, 11, 23, 21, 29, 16, 414000, tzinfo=UTC)


@pytest.mark.parametrize("user_id", ["alice", "Élodie", "a b", "x" * 8, "🙂"])
def test_valid_user_ids_pass_unchanged(user_id: str) -> None:
    assert check_user_id(user_id, LIMITS) == user_id


@pytest.mark.parametrize(
    ("user_id", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 9, "longer"),
        ("a\nb", "control"),
        ("\u200b", "control"),
    ],
)
def test_invalid_user_ids_say_why(user_id: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        check_user_id(user_id, LIMITS)


def test_participants_are_deduplicated_in_order_with_the_bot_last() -> None:
    assert normalise_participants(["b", "a", "b", "bot_user"], LIMITS) == ("b", "a", "bot_user")


def test_too_many_participants_are_refused() -> None:
    with pytest.raises(InvalidInput, match="at most 3"):
        normalise_participants(["a", "b", "c", "d"], LIMITS)


def test_content_limits() -> None:
    assert check_content("x" * 10, LIMITS) == "x" * 10
    with pytest.raises(InvalidInput, match="longer"):
        check_content("x" * 11, LIMITS)
    with pytest.raises(InvalidInput, match="empty"):
        check_content("", LIMITS)


def test_timestamps_are_utc_with_z_and_milliseconds() -> None:
    assert format_timestamp(MOMENT) == "2026-11-23T21:29:16.414Z"
    elsewhere = MOMENT.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert format_timestamp(elsewhere) == "2026-11-23T21:29:16.414Z"
    assert from_epoch_ms(to_epoch_ms(MOMENT)) == MOMENT
