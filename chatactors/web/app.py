"""create_app: the Quart-Trio application, wired to the actors for one serving lifetime."""

from __future__ import annotations

from collections.abc import Callable

from quart_trio import QuartTrio

from chatactors.settings import Settings
from chatactors.settings_parsing import read_settings
from chatactors.storage.store import ChatStore
from chatactors.web import (
    chats_api,
    connection,
    health,
    media_api,
    members_api,
    openapi,
    search_api,
    static_routes,
)
from chatactors.web.auth import install_auth
from chatactors.web.cors import install_cors
from chatactors.web.error_responses import register_error_handlers
from chatactors.web.lifespan import install_lifespan


def create_app(
    settings: Settings | None = None,
    *,
    store: ChatStore | None = None,
    on_services_failure: Callable[[], None] | None = None,
) -> QuartTrio:
    """Build the app. ``store`` replaces the configured one (tests pass a MemoryStore);
    ``on_services_failure`` is called if the services stop while serving (``serve`` then
    exits non-zero; web/lifespan.py)."""
    settings = settings or read_settings()
    app = QuartTrio("chatactors", static_folder=None)
    # First: its before-request hook refuses a body too large before auth looks at the request.
    connection.install(app, settings)
    # Keep URLs exactly as the reference has them: no redirect to a trailing slash.
    app.url_map.strict_slashes = False
    app.register_blueprint(chats_api.blueprint)
    app.register_blueprint(members_api.blueprint)
    app.register_blueprint(search_api.blueprint)
    app.register_blueprint(static_routes.blueprint)
    app.register_blueprint(health.blueprint)
    # The API's document (web/openapi.py), made from the app's routes on first request.
    openapi.install(app, settings)
    install_auth(app, settings)
    media_api.install(app, settings)
    register_error_handlers(app, settings)
    install_cors(app, settings.cors_origins)
    install_lifespan(app, settings, store, on_services_failure)
    return app
