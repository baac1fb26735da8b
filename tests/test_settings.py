"""Settings: flags over environment over defaults; bad values are refused with the field's name;
every setting has a meaning, a flag and a variable, and its text converts to its type."""

from __future__ import annotations

import argparse
import types
import typing
from pathlib import Path
from typing import Any, Literal

import attrs
import pytest

from chatactors import settings_parsing
from chatactors.cli import main
from chatactors.domain.rules import Limits
from chatactors.settings import HELP, Settings, SettingsError
from chatactors.settings_parsing import CONVERSIONS, add_flags, env_var, flag, read_settings


def parse(*flags: str, environ: dict[str, str] | None = None) -> Settings:
    parser = argparse.ArgumentParser()
    add_flags(parser)
    return read_settings(parser.parse_args(list(flags)), environ or {})


def test_a_flag_wins_over_the_environment_which_wins_over_the_default() -> None:
    assert parse().ws_v1_write_delay_s == 0.0
    assert parse(environ={"CHATACTORS_WS_V1_WRITE_DELAY_S": "0.5"}).ws_v1_write_delay_s == 0.5
    both = parse("--ws-v1-write-delay-s", "1", environ={"CHATACTORS_WS_V1_WRITE_DELAY_S": "0.5"})
    assert both.ws_v1_write_delay_s == 1.0
    assert parse("--no-bot-enabled").bot_enabled is False
    assert parse(environ={"CHATACTORS_STORE": "memory"}).store == "memory"


@pytest.mark.parametrize(
    ("flags", "environ", "field"),
    [
        (("--inbox-size", "many"), {}, "inbox_size"),
        (("--store", "postgres"), {}, "store"),
        ((), {"CHATACTORS_BOT_ENABLED": "perhaps"}, "bot_enabled"),
        (("--ws-v1-max-pipelined", "-1"), {}, "ws_v1_max_pipelined"),
        ((), {"CHATACTORS_WS_V1_WRITE_DELAY_S": "-0.5"}, "ws_v1_write_delay_s"),
        (("--subscriber-queue-size", "-3"), {}, "subscriber_queue_size"),
    ],
)
def test_bad_values_are_refused_naming_the_field(
    flags: tuple[str, ...], environ: dict[str, str], field: str
) -> None:
    with pytest.raises(SettingsError, match=field):
        parse(*flags, environ=environ)


def test_a_seed_may_be_negative() -> None:
    assert parse("--bot-seed", "-7").bot_seed == -7


def test_serve_exits_with_a_usage_error_on_a_bad_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--inbox-size", "-1"])
    assert exited.value.code == 2
    assert "inbox_size" in capsys.readouterr().err


def test_serve_help_shows_each_setting_on_one_line_with_its_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # no wrapping
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    lines = capsys.readouterr().out.splitlines()
    for field in attrs.fields(Settings):
        flag = "--" + field.name.replace("_", "-")
        [line] = [line for line in lines if line.lstrip().startswith(flag + " ")] or [
            line for line in lines if line.lstrip().startswith(flag + ",")
        ]
        assert field.metadata[HELP] in line
        assert "(default: " in line
    assert "--shutdown-timeout-s SECONDS" in "\n".join(lines)
    assert any("(default: 10.0)" in line and "--shutdown-timeout-s" in line for line in lines)


def test_value_limits_have_their_defaults_only_in_settings() -> None:
    with pytest.raises(TypeError):
        Limits()  # type: ignore[call-arg]
    defaults = Settings().limits
    assert (defaults.max_id_length, defaults.max_participants) == (128, 256)


def as_text(value: object) -> str:
    """A value as one types it after its flag or in its variable."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return "none" if value is None else str(value)


def another_value(name: str, type_: Any, default: object) -> object:
    """A value of ``type_`` other than ``default`` (when the type has another)."""
    if typing.get_origin(type_) in (typing.Union, types.UnionType):
        [inner] = [arg for arg in typing.get_args(type_) if arg is not type(None)]
        return None if default is not None else another_value(name, inner, None)
    if typing.get_origin(type_) is Literal:
        return next((c for c in typing.get_args(type_) if c != default), default)
    samples: dict[Any, object] = {
        bool: not default,
        int: (default or 0) + 7 if isinstance(default, int) else 7,
        float: (default or 0.0) + 0.25 if isinstance(default, float) else 2.5,
        str: f"x{default or ''}",
        Path: Path("elsewhere/dir"),
    }
    if type_ not in samples:
        pytest.fail(f"{name}: no sample of {type_} in this test: add one")
    return samples[type_]


@pytest.mark.parametrize("field", attrs.fields(Settings), ids=lambda field: field.name)
def test_every_setting_has_a_meaning_a_flag_and_a_variable_that_give_its_value(
    field: attrs.Attribute[Any],
) -> None:
    # Fails for a field added without help, or of a type whose text the parser cannot convert
    # (settings_parsing.py then fails at import, or gives back something else).
    assert field.metadata.get(HELP, "").strip(), field.name
    type_, _ = CONVERSIONS[field.name]
    default = field.default
    if type_ is bool:
        assert getattr(parse(flag(field.name)), field.name) is True
        assert getattr(parse("--no-" + flag(field.name)[2:]), field.name) is False
    else:
        assert getattr(parse(flag(field.name), as_text(default)), field.name) == default
    from_env = parse(environ={env_var(field.name): as_text(default)})
    assert getattr(from_env, field.name) == default
    assert type(getattr(from_env, field.name)) is type(default)
    # Another value, through the same conversion (alone it may break a rule between settings).
    other = another_value(field.name, type_, default)
    parsed = settings_parsing.parse(field.name, as_text(other), source=flag(field.name))
    assert (parsed, type(parsed)) == (other, type(other))


def test_secrets_stay_out_of_the_repr() -> None:
    settings = Settings(
        auth_secret="a" * 32 + "-secret",
        redis_url="redis://:hunter2@127.0.0.1:6379/0",
        database_url="postgresql://chat:s3cret@127.0.0.1/chat",
    )
    shown = repr(settings)
    assert "-secret" not in shown
    assert "hunter2" not in shown
    assert "s3cret" not in shown
    assert "inbox_size=256" in shown
