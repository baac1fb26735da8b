"""chatactors.compat.quart_schema against the quart-schema installed: the version is the one
pinned, QuartSchema still wraps ``make_response`` as an instance attribute, and undoing it
gives Quart's own method back."""

from __future__ import annotations

import pytest
from quart import Quart
from quart_schema import QuartSchema
from quart_trio import QuartTrio

from chatactors.compat import quart_schema as compat
from chatactors.web.app import create_app
from tests.compat.upstream import check_pin
from tests.conftest import make_settings


def test_the_installed_quart_schema_is_the_one_pinned_and_checked() -> None:
    check_pin("quart-schema", compat.PINNED)


def test_quart_schema_wraps_make_response_and_restoring_unwraps_it() -> None:
    app = QuartTrio(__name__)
    QuartSchema(app)
    wrapper = vars(app)["make_response"]
    assert wrapper.__wrapped__.__func__ is Quart.make_response
    compat.restore_make_response(app)
    assert app.make_response.__func__ is Quart.make_response  # type: ignore[attr-defined]


def test_the_app_answers_with_quarts_own_make_response() -> None:
    app = create_app(make_settings())
    assert "make_response" not in vars(app)
    assert app.make_response.__func__ is Quart.make_response  # type: ignore[attr-defined]


def test_restoring_what_was_never_wrapped_fails_loudly() -> None:
    app = QuartTrio(__name__)
    with pytest.raises(RuntimeError, match="needs updating"):
        compat.restore_make_response(app)
