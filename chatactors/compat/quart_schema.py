"""Where chatactors undoes part of quart-schema beyond its public API, for quart-schema 0.20-0.25
(:data:`PINNED`, as pyproject.toml pins it).

``quart_schema.extension.QuartSchema.init_app`` replaces the app's ``make_response`` with an
instance attribute (``wrap_make_response``) that converts a returned model (attrs, msgspec,
pydantic) into JSON, on every request. The routes here return Responses only (web/wire.py
encodes), so the wrapper is pure cost: :func:`restore_make_response` deletes that attribute, and
Quart's own method answers again. ``tests/compat/test_quart_schema.py`` fails if upstream stops
wrapping it that way, or if the installed version leaves the pinned range.
"""

from __future__ import annotations

from quart import Quart

#: The versions this module was written and checked against (pyproject.toml's pin).
PINNED = ">=0.20,<0.26"


def restore_make_response(app: Quart) -> None:
    """Undo QuartSchema's ``make_response`` wrapper on ``app`` (after ``QuartSchema(app)``)."""
    if "make_response" not in vars(app):
        raise RuntimeError(
            "QuartSchema no longer wraps app.make_response: chatactors.compat.quart_schema "
            "needs updating for this quart-schema"
        )
    del app.make_response
