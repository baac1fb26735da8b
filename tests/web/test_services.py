"""One typed Services per serving lifetime: the only thing the app keeps, found one way."""

from __future__ import annotations

import pytest

from chatactors.domain.errors import RateLimited
from chatactors.domain.ids import UserId
from chatactors.web.app import create_app
from chatactors.web.services import SERVICES_KEY, services_of
from tests.conftest import make_settings

SECRET = "s" * 32


async def test_services_exist_only_while_serving_and_are_the_apps_only_extension() -> None:
    app = create_app(
        make_settings(
            auth_enabled=True, auth_secret=SECRET, rate_limit_burst=1, rate_limit_per_s=0.001
        )
    )
    assert services_of(app) is None
    async with app.test_app() as test_app:
        running = services_of(app)
        assert running is not None
        ours = [key for key in app.extensions if str(key).startswith("chatactors")]
        assert ours == [SERVICES_KEY]
        assert running.settings.rate_limit_burst == 1
        # The media, the metrics and the rate limiter of this lifetime, all in one place.
        assert running.media.url("x").endswith("/media/x")
        response = await test_app.test_client().get("/metrics")
        assert response.status_code == 200
        assert b"chatactors_active_actors" in await response.get_data()
        assert running.rate_limiter is not None
        await running.charge_send(UserId("alice"))
        with pytest.raises(RateLimited):
            await running.charge_send(UserId("alice"))
    assert services_of(app) is None


async def test_the_rate_limiter_forgets_users_past_the_configured_count() -> None:
    settings = make_settings(
        auth_enabled=True,
        auth_secret=SECRET,
        rate_limit_burst=1,
        rate_limit_per_s=0.001,
        rate_limit_max_users=2,
    )
    app = create_app(settings)
    async with app.test_app():
        running = services_of(app)
        assert running is not None
        await running.charge_send(UserId("alice"))
        await running.charge_send(UserId("bob"))
        await running.charge_send(UserId("carol"))  # alice's empty bucket is forgotten
        await running.charge_send(UserId("alice"))


async def test_without_access_control_nothing_is_rate_limited() -> None:
    app = create_app(make_settings(rate_limit_burst=1, rate_limit_per_s=0.001))
    async with app.test_app():
        running = services_of(app)
        assert running is not None
        assert running.rate_limiter is None
        for _ in range(5):
            await running.charge_send(UserId("alice"))
