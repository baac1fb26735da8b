"""create_app: the Quart-Trio application, wired to the actors for one serving lifetime."""

from __future__ import annotations

from collections.abc import Callable

from quart_schema import Info, QuartSchema
from quart_trio import QuartTrio

from chatactors import __version__
from chatactors.compat.quart_schema import restore_make_response
from chatactors.settings import Settings
from chatactors.settings_parsing import read_settings
from chatactors.storage.store import ChatStore
from chatactors.web import (
    chats_api,
    connection,
    health,
    media_api,
    members_api,
    search_api,
    static_routes,
)
from chatactors.web.auth import install_auth
from chatactors.web.cors import install_cors
from chatactors.web.error_responses import register_error_handlers
from chatactors.web.lifespan import install_lifespan
from chatactors.web.openapi import ChatOpenAPIProvider


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
    QuartSchema(
        app,
        info=Info(title="chatactors", version=__version__),
        openapi_path="/openapi.json",
        # The bundled viewers load scripts from CDNs; the JSON document is what we serve.
        swagger_ui_path=None,
        redoc_ui_path=None,
        scalar_ui_path=None,
        conversion_preference="msgspec",
        openapi_provider_class=ChatOpenAPIProvider,
    )
    # Its conversion of returned models costs every request; the routes return Responses.
    restore_make_response(app)
    app.register_blueprint(chats_api.blueprint)
    app.register_blueprint(members_api.blueprint)
    app.register_blueprint(search_api.blueprint)
    app.register_blueprint(static_routes.blueprint)
    app.register_blueprint(health.blueprint)
    install_auth(app, settings)
    media_api.install(app, settings)
    register_error_handlers(app, settings)
    install_cors(app, settings.cors_origins)
    install_lifespan(app, settings, store, on_services_failure)
    return app
