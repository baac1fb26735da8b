"""How settings are read: ``--flags`` and ``CHATACTORS_*`` variables (text) into ``Settings``.

The settings themselves are defined in settings.py; nothing here names one. Each field's type
picks its conversion from text in one cattrs ``Converter``: whole numbers, numbers, yes/no
words, paths, one of a ``Literal``'s choices, and ``X | None`` ("none" or nothing: None). A field
of any other type is a ``TypeError`` as soon as this module is imported, never text passed
through: give the type a hook below first.
"""

from __future__ import annotations

import argparse
import math
import os
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
import cattrs

from chatactors.settings import HELP, Settings, SettingsError

ENV_PREFIX = "CHATACTORS_"
YES = ("1", "true", "yes", "on")
NO = ("0", "false", "no", "off")
NONE = ("", "none")

#: Converts one value's text: ``hook(text, type)``; raises ``ValueError`` saying what it expects.
TextHook = Callable[[str, Any], Any]


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def env_var(name: str) -> str:
    return ENV_PREFIX + name.upper()


# -- the conversions ----------------------------------------------------------------------------


def _to_bool(text: str, _: Any) -> bool:
    word = text.strip().lower()
    if word in YES or word in NO:
        return word in YES
    raise ValueError(f"expected one of {', '.join(YES + NO)}")


def _to_int(text: str, _: Any) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError("expected a whole number") from None


def _to_float(text: str, _: Any) -> float:
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if math.isnan(number):  # compares false with every bound, so no check would refuse it
        raise ValueError("expected a number")
    return number


def _to_str(text: str, _: Any) -> str:
    return text


def _to_path(text: str, _: Any) -> Path:
    if not text.strip():
        raise ValueError("expected a path")
    return Path(text)


def _is_literal(type_: Any) -> bool:
    return typing.get_origin(type_) is Literal


def _is_optional(type_: Any) -> bool:
    args = typing.get_args(type_)
    is_union = typing.get_origin(type_) in (typing.Union, types.UnionType)
    return is_union and len(args) == 2 and type(None) in args


def _inner(optional: Any) -> Any:
    [inner] = [arg for arg in typing.get_args(optional) if arg is not type(None)]
    return inner


def _literal_hook(type_: Any) -> TextHook:
    choices = typing.get_args(type_)
    if not all(isinstance(choice, str) for choice in choices):
        raise TypeError(f"a setting of type {type_} cannot be read from text: choices are words")

    def to_choice(text: str, _: Any) -> str:
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return text

    return to_choice


def _optional_hook(type_: Any, converter: cattrs.Converter) -> TextHook:
    inner = _inner(type_)
    to_inner = converter.get_structure_hook(inner)  # an inner type without a hook fails here

    def to_optional(text: str, _: Any) -> Any:
        return None if text.strip().lower() in NONE else to_inner(text, inner)

    return to_optional


def _unsupported(type_: Any) -> TextHook:
    raise TypeError(f"a setting of type {type_} cannot be read from text: add a hook to {__name__}")


def _text_converter() -> cattrs.Converter:
    converter = cattrs.Converter()
    # Registered first, so every hook after it comes before it, and it before cattrs' own
    # (which would, say, read a list from the characters of the text).
    converter.register_structure_hook_factory(lambda _: True, _unsupported)
    for type_, hook in ((bool, _to_bool), (int, _to_int), (float, _to_float), (str, _to_str),
                        (Path, _to_path)):  # fmt: skip
        converter.register_structure_hook(type_, hook)
    converter.register_structure_hook_factory(_is_literal, _literal_hook)
    converter.register_structure_hook_factory(_is_optional, _optional_hook)
    return converter


#: Text to a setting's type (``converter.structure("5", int)``).
converter = _text_converter()


def field_conversions(cls: type) -> dict[str, tuple[Any, TextHook]]:
    """Each field of the attrs class ``cls``: its type and its conversion from text.

    Raises:
        TypeError: a field's type has no conversion (the message names the field).
    """
    hints = typing.get_type_hints(cls)
    conversions: dict[str, tuple[Any, TextHook]] = {}
    for field in attrs.fields(cls):
        type_ = hints[field.name]
        try:
            conversions[field.name] = (type_, converter.get_structure_hook(type_))
        except TypeError as error:
            raise TypeError(f"{cls.__name__}.{field.name}: {error}") from None
    return conversions


#: Resolved once, at import: a setting that cannot be read fails here, not at some start-up.
CONVERSIONS = field_conversions(Settings)


def parse(name: str, text: str, *, source: str) -> Any:
    """The value of setting ``name`` given as ``text`` by ``source`` (its flag or variable).

    Raises:
        SettingsError: the text is not a value of the setting's type.
    """
    type_, hook = CONVERSIONS[name]
    try:
        return hook(text, type_)
    except ValueError as error:
        raise SettingsError(f"invalid value {text!r} for {name} ({source}): {error}") from None


# -- flags and the environment ------------------------------------------------------------------


def add_flags(parser: argparse.ArgumentParser) -> None:
    """One ``--flag`` per setting with its meaning and default, defaulting to "not given" so
    that the environment still applies (``--name``/``--no-name`` for a yes/no one)."""
    for field in attrs.fields(Settings):
        type_, _ = CONVERSIONS[field.name]
        help = f"{field.metadata[HELP]} (default: {_shown(field.default)})"
        if type_ is bool:
            parser.add_argument(
                flag(field.name), default=None, action=argparse.BooleanOptionalAction, help=help
            )
        else:
            parser.add_argument(
                flag(field.name), default=None, metavar=_metavar(field.name, type_), help=help
            )


def read_settings(
    args: argparse.Namespace | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from ``args`` (parsed with :func:`add_flags`), over ``environ`` (by default the
    process's), over the defaults.

    Raises:
        SettingsError: a value is refused; the message names the setting and where it came from.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name in CONVERSIONS:
        given = None if args is None else getattr(args, name, None)
        if isinstance(given, bool):  # --name / --no-name
            values[name], sources[name] = given, flag(name)
        elif given is not None:
            values[name], sources[name] = parse(name, given, source=flag(name)), flag(name)
        elif (text := environ.get(env_var(name))) is not None:
            values[name] = parse(name, text, source=env_var(name))
            sources[name] = env_var(name)
    try:
        return Settings(**values)
    except SettingsError as error:
        if error.setting not in sources:
            raise
        source = sources[error.setting]
        raise SettingsError(f"{error} ({source})", setting=error.setting) from None


def help_formatter(prog: str) -> argparse.HelpFormatter:
    """Each flag and its help on one line (in a terminal wide enough)."""
    return argparse.HelpFormatter(prog, max_help_position=40)


def _metavar(name: str, type_: Any) -> str:
    if _is_optional(type_):
        type_ = _inner(type_)
    if _is_literal(type_):
        return "{" + ",".join(typing.get_args(type_)) + "}"
    if name.endswith("_s") and not name.endswith("_per_s"):
        return "SECONDS"
    metavars: dict[Any, str] = {int: "N", float: "X", Path: "DIR"}
    return metavars.get(type_, "TEXT")


def _shown(default: object) -> str:
    if isinstance(default, bool):
        return "on" if default else "off"
    return "none" if default is None or default == "" else str(default)
