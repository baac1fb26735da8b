"""Request bodies and query strings into frozen types: decoded once, strictly, at the edge.

A body is JSON whatever its Content-Type (``fetch`` without headers sends JSON as
``text/plain``, and the reference accepts it). msgspec decodes the bytes straight into the
route's wire type (web/wire.py), ignoring unknown keys as the reference does. Text that is not valid
Unicode (invalid UTF-8, a lone surrogate such as ``"\\ud800"``) and bodies nested too deep are
refused with 422 here, so that nothing downstream (the store's UTF-8 encoding, a recursive
parser) ever sees them.
"""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import parse_qsl

import msgspec
import orjson

from chatactors.domain.errors import InvalidInput

T = TypeVar("T")


#: One decoder per model, made on first use (a decoder compiles its model once).
_DECODERS: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def _decoder(model: type[T]) -> msgspec.json.Decoder[T]:
    found = _DECODERS.get(model)
    if found is None:
        # Lax: "5" is taken where an int is expected, "true" where a bool is.
        found = _DECODERS[model] = msgspec.json.Decoder(model, strict=False)
    return found


def decode_body(raw: bytes, model: type[T]) -> T:
    """The JSON body ``raw`` as a ``model``. Raises ``InvalidInput`` (422) when it is not one."""
    try:
        return _decoder(model).decode(raw)
    except msgspec.ValidationError as error:
        raise InvalidInput(f"Invalid request: {error}") from None
    except (msgspec.DecodeError, RecursionError) as error:
        raise InvalidInput(f"The request body is not valid JSON: {_why(raw, error)}") from None


def _why(raw: bytes, error: Exception) -> str:
    """The clearest reason: orjson names lone surrogates and positions where msgspec does not."""
    if isinstance(error, RecursionError):
        return "it is nested too deeply"
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as orjson_error:
        if "allocate" not in str(orjson_error):  # orjson's way of saying "too deep"
            return str(orjson_error)
    return str(error)


def query_args(query_string: bytes) -> dict[str, Any]:
    """The query's arguments (a repeated key becomes a list), strictly UTF-8.

    Raises ``InvalidInput`` if a value is not valid UTF-8 once percent-decoded (werkzeug would
    leave such a value percent-encoded, and urllib would turn it into U+FFFD).
    """
    args: dict[str, Any] = {}
    try:
        pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise InvalidInput("The query string is not valid UTF-8") from None
    for key, value in pairs:
        name = key.removesuffix("[]")
        if name in args:
            previous = args[name]
            args[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            args[name] = [value] if key.endswith("[]") else value
    return args


def decode_query(query_string: bytes, model: type[T]) -> T:
    """The query string as a ``model`` (all its fields optional). Raises ``InvalidInput``."""
    try:
        return msgspec.convert(query_args(query_string), model, strict=False)
    except msgspec.ValidationError as error:
        raise InvalidInput(f"Invalid request: {error}") from None
