"""What a chat socket needs from the running app, passed explicitly.

The raw ASGI socket path has no Quart app context, so nothing on a socket's path reads Quart's
globals; both transports build this from the app's extensions.
"""

from __future__ import annotations

import attrs
from quart import Quart

from chatactors.domain.ids import UserId
from chatactors.settings import Settings
from chatactors.web import media_api
from chatactors.web.lifespan import EXTENSION_KEY, Services
from chatactors.web.metrics import METRICS_KEY, WebMetrics
from chatactors.web.rate_limit import RATE_LIMITER_KEY, RateLimiter


@attrs.frozen
class SocketContext:
    services: Services
    metrics: WebMetrics
    media: media_api.Media
    rate_limiter: RateLimiter | None

    @classmethod
    def of(cls, app: Quart) -> SocketContext | None:
        """None while the app is not serving (before start-up, after shutdown)."""
        running: Services | None = app.extensions.get(EXTENSION_KEY)
        media: media_api.Media | None = app.extensions.get(media_api.EXTENSION_KEY)
        if running is None or media is None:
            return None
        return cls(
            running, app.extensions[METRICS_KEY], media, app.extensions.get(RATE_LIMITER_KEY)
        )

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def charge_send(self, user_id: UserId) -> None:
        """Count one message send (rate limits are on only with access control)."""
        if self.rate_limiter is not None:
            self.rate_limiter.take(user_id)
