"""Every limit, delay and path in one frozen object, filled from CLI flags and the environment.

Each field ``name`` is read from ``CHATACTORS_NAME`` and from the flag ``--name-with-dashes``;
a flag wins over the environment, which wins over the default. Units are in the names.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs

from chatactors.domain.rules import Limits

ENV_PREFIX = "CHATACTORS_"
MiB = 1024 * 1024


@attrs.frozen(kw_only=True)
class Settings:
    # Serving
    host: str = "0.0.0.0"
    port: int = 8000
    #: The absolute base URL clients reach this server at (bot media URLs and upload URLs use it);
    #: empty means http://localhost:<port>.
    public_url: str = ""
    log_level: str = "info"
    log_json: bool = False
    shutdown_timeout_s: float = 10.0
    #: Allocations between young-generation garbage collections (Python's default is 700).
    #: Every socket keeps hundreds of long-lived objects that each full collection walks; a
    #: higher threshold (and freezing what exists at start-up) cut the collector's share of
    #: the CPU from about a fifth to little (BENCHMARKS.md). 0 keeps Python's default.
    gc_gen0_threshold: int = 50_000

    # Storage
    store: Literal["sqlite", "postgres", "memory"] = "sqlite"
    data_dir: Path = Path("data")
    #: For ``store=postgres``: ``postgresql://user:password@host:port/database``. Kept out of
    #: repr, which could end in a log with its password.
    database_url: str = attrs.field(default="", repr=False)
    write_batch_max: int = 512

    # Actors
    inbox_size: int = 256
    #: How long a caller waits for room in a full inbox before it gets 503.
    inbox_wait_s: float = 2.0
    #: How long a request waits for the actor's answer before it gets 503.
    command_timeout_s: float = 10.0
    idle_timeout_s: float = 600.0
    history_window: int = 500
    idempotency_window: int = 1000
    subscriber_queue_size: int = 1024
    max_history_page: int = 10_000
    max_replay: int = 5000
    crash_backoff_s: float = 1.0

    # Presence
    typing_timeout_s: float = 10.0

    # The bot
    bot_enabled: bool = True
    bot_delay_min_s: float = 2.0
    bot_delay_max_s: float = 4.0
    bot_seed: int | None = None

    # Input limits
    max_id_length: int = 128
    max_participants: int = 256
    max_content_chars: int = 8 * MiB
    max_body_bytes: int = 12 * MiB
    ws_max_message_bytes: int = 12 * MiB
    ws_ping_interval_s: float = 25.0
    #: chatactors.v1 sockets: the least time between two event frames to one socket. Events
    #: that arrive meanwhile share the next frame, so a busy room costs one frame per socket
    #: per interval instead of one per event (Centrifugo's ``write_delay``). 0: send at once.
    ws_v1_write_delay_s: float = 0.0
    #: chatactors.v1 sockets: commands read ahead of their answers (pipelining).
    ws_v1_max_pipelined: int = 64

    # Media
    max_image_bytes: int = 10 * MiB
    max_audio_bytes: int = 25 * MiB

    # Access control (off by default so that reference clients keep working)
    auth_enabled: bool = False
    auth_secret: str = ""
    auth_token_ttl_s: float = 7 * 24 * 3600.0
    rate_limit_per_s: float = 20.0
    rate_limit_burst: int = 60
    cors_origins: str = "*"

    def __attrs_post_init__(self) -> None:
        # A negative size or delay would fail later, far from its cause (say, in every socket).
        for field in attrs.fields(type(self)):
            value = getattr(self, field.name)
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            if is_number and field.name != "bot_seed" and value < 0:
                raise SettingsError(f"invalid value {value!r} for {field.name}: must be >= 0")
        if self.store == "postgres" and not self.database_url:
            raise SettingsError("store=postgres needs database_url (postgresql://...)")

    @property
    def limits(self) -> Limits:
        return Limits(
            max_id_length=self.max_id_length,
            max_participants=self.max_participants,
            max_content_chars=self.max_content_chars,
        )

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://localhost:{self.port}").rstrip("/")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in attrs.fields(cls):
            raw = environ.get(ENV_PREFIX + field.name.upper())
            if raw is not None:
                values[field.name] = _parse(field, raw)
        values.update(overrides)
        return cls(**values)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """One ``--flag`` per field, defaulting to "not given" so the environment still applies."""
        for field in attrs.fields(cls):
            flag = "--" + field.name.replace("_", "-")
            if field.type in ("bool", bool):
                parser.add_argument(flag, default=None, action=argparse.BooleanOptionalAction)
            else:
                parser.add_argument(flag, default=None, metavar=field.name.upper())

    @classmethod
    def from_args(
        cls, args: argparse.Namespace, environ: Mapping[str, str] | None = None
    ) -> Settings:
        given: dict[str, Any] = {}
        for field in attrs.fields(cls):
            value = getattr(args, field.name, None)
            if value is not None:
                given[field.name] = value if isinstance(value, bool) else _parse(field, value)
        return cls.from_env(environ, **given)


def _parse(field: attrs.Attribute[Any], raw: str) -> Any:
    kind = str(field.type)
    try:
        if kind == "bool":
            lowered = raw.strip().lower()
            if lowered not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                raise ValueError(raw)
            return lowered in {"1", "true", "yes", "on"}
        if kind == "int":
            return int(raw)
        if kind == "int | None":
            return None if raw.strip() in {"", "none"} else int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw)
        if kind.startswith("Literal"):
            allowed = [part.strip(" '\"") for part in kind[len("Literal[") : -1].split(",")]
            if raw not in allowed:
                raise ValueError(f"expected one of {allowed}")
            return raw
    except ValueError as error:
        raise SettingsError(f"invalid value {raw!r} for {field.name}: {error}") from None
    return raw


class SettingsError(ValueError):
    pass


def describe(settings: Settings) -> Sequence[str]:
    return [f"{field.name}={getattr(settings, field.name)!r}" for field in attrs.fields(Settings)]
