"""Settings: flags over environment over defaults; bad values are refused with the field's name."""

from __future__ import annotations

import argparse

import attrs
import pytest

from chatactors.cli import main
from chatactors.domain.rules import Limits
from chatactors.settings import HELP, Settings, SettingsError


def parse(*flags: str, environ: dict[str, str] | None = None) -> Settings:
    parser = argparse.ArgumentParser()
    Settings.add_arguments(parser)
    return Settings.from_args(parser.parse_args(list(flags)), environ or {})


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


def test_every_setting_has_a_meaning() -> None:
    for field in attrs.fields(Settings):
        assert field.metadata.get(HELP, "").strip(), field.name


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
