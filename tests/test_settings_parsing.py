"""settings_parsing: each type's text, good and bad; errors name the flag or the variable; a
field of a type without a conversion is refused before any value is read."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import attrs
import pytest

from chatactors.cli import main
from chatactors.settings import Settings, SettingsError
from chatactors.settings_parsing import (
    add_flags,
    converter,
    env_var,
    field_conversions,
    flag,
    parse,
    read_settings,
)


def from_flags(*flags: str) -> Settings:
    parser = argparse.ArgumentParser()
    add_flags(parser)
    return read_settings(parser.parse_args(list(flags)), {})


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("log_json", "1", True),
        ("log_json", " Yes ", True),
        ("log_json", "TRUE", True),
        ("log_json", "on", True),
        ("bot_enabled", "0", False),
        ("bot_enabled", "no", False),
        ("bot_enabled", "False", False),
        ("bot_enabled", "off", False),
        ("inbox_size", "42", 42),
        ("gc_gen0_threshold", "50_000", 50_000),
        ("bot_seed", "-7", -7),
        ("bot_seed", "none", None),
        ("bot_seed", "NONE", None),
        ("bot_seed", "", None),
        ("retry_after_s", "0.5", 0.5),
        ("retry_after_s", "2", 2.0),
        ("retry_after_s", "1e3", 1000.0),
        ("store", "postgres", "postgres"),
        ("bot_images", "https", "https"),
        ("data_dir", "/var/lib/chat", Path("/var/lib/chat")),
        ("host", "::1", "::1"),
        ("public_url", "", ""),
    ],
)
def test_text_converts_to_the_settings_type(name: str, text: str, value: object) -> None:
    parsed = parse(name, text, source=flag(name))
    assert (parsed, type(parsed)) == (value, type(value))


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("bot_enabled", "perhaps", "expected one of 1, true, yes, on, 0, false, no, off"),
        ("bot_enabled", "", "expected one of"),
        ("inbox_size", "many", "expected a whole number"),
        ("inbox_size", "1.5", "expected a whole number"),
        ("inbox_size", "", "expected a whole number"),
        ("bot_seed", "random", "expected a whole number"),
        ("retry_after_s", "soon", "expected a number"),
        ("retry_after_s", "nan", "expected a number"),
        ("store", "Postgres", "expected one of sqlite, postgres, memory"),
        ("memory_allocator", "jemalloc", "expected one of malloc, pymalloc"),
        ("data_dir", " ", "expected a path"),
    ],
)
def test_bad_text_is_refused_naming_the_setting_its_source_and_what_it_expects(
    name: str, text: str, expected: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        parse(name, text, source=env_var(name))
    message = str(refused.value)
    assert message.startswith(f"invalid value {text!r} for {name} ({env_var(name)}): ")
    assert expected in message


def test_a_bad_flag_is_named_as_a_flag_and_a_bad_variable_as_a_variable() -> None:
    with pytest.raises(SettingsError, match=r"inbox_size \(--inbox-size\): expected a whole"):
        from_flags("--inbox-size", "many")
    with pytest.raises(SettingsError, match=r"inbox_size \(CHATACTORS_INBOX_SIZE\): expected"):
        read_settings(environ={"CHATACTORS_INBOX_SIZE": "many"})


def test_a_value_out_of_range_is_named_with_where_it_came_from() -> None:
    with pytest.raises(SettingsError) as from_flag:
        from_flags("--inbox-size", "-1")
    assert str(from_flag.value) == "invalid value -1 for inbox_size: must be >= 0 (--inbox-size)"
    with pytest.raises(SettingsError, match=r"must be >= 0 \(CHATACTORS_INBOX_SIZE\)$"):
        read_settings(environ={"CHATACTORS_INBOX_SIZE": "-1"})
    # The flag, not the variable it overrides, is the value refused.
    environ = {"CHATACTORS_LEASE_TTL_S": "5", "CHATACTORS_REDIS_URL": "redis://127.0.0.1"}
    parser = argparse.ArgumentParser()
    add_flags(parser)
    with pytest.raises(SettingsError, match=r"^lease_ttl_s must be > 0 \(--lease-ttl-s\)$"):
        read_settings(parser.parse_args(["--lease-ttl-s", "0"]), environ)


def test_a_rule_between_settings_is_refused_as_it_is() -> None:
    with pytest.raises(SettingsError, match=r"^workers > 1 needs redis_url: each worker is"):
        read_settings(environ={"CHATACTORS_WORKERS": "2"})


def test_token_exits_with_a_usage_error_on_a_bad_setting(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["token", "alice", "--auth-token-ttl-s", "long"])
    assert exited.value.code == 2
    assert "auth_token_ttl_s (--auth-token-ttl-s): expected a number" in capsys.readouterr().err


@attrs.frozen
class WithTimedelta:
    timeout: timedelta = timedelta(seconds=1)


@attrs.frozen
class WithList:
    hosts: list[str] = attrs.field(factory=list)


@attrs.frozen
class WithNumberedChoices:
    level: Literal[1, 2] = 1


@attrs.frozen
class WithUnion:
    port: int | str = 0


@attrs.frozen
class WithOptionalTimedelta:
    timeout: timedelta | None = None


@pytest.mark.parametrize(
    ("cls", "field"),
    [
        (WithTimedelta, "timeout"),
        (WithList, "hosts"),  # cattrs alone would read a list from the text's characters
        (WithNumberedChoices, "level"),
        (WithUnion, "port"),
        (WithOptionalTimedelta, "timeout"),
    ],
)
def test_a_field_of_a_type_without_a_conversion_is_refused_at_once(cls: type, field: str) -> None:
    with pytest.raises(TypeError, match=rf"^{cls.__name__}\.{field}: .* cannot be read from text"):
        field_conversions(cls)


def test_the_converter_is_cattrs_with_a_hook_per_type() -> None:
    optional_int: Any = int | None  # (typing forms are not classes for mypy)
    choices: Any = Literal["a", "b"]
    assert converter.structure("yes", bool) is True
    assert converter.structure("none", optional_int) is None
    with pytest.raises(ValueError, match="expected one of a, b"):
        converter.structure("c", choices)
    typed: Any = converter.structure("3", float)
    assert (typed, type(typed)) == (3.0, float)
