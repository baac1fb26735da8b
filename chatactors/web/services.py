"""Services: everything routes and sockets use, made once per serving lifetime.

web/lifespan.py builds one :class:`Services` before serving and closes it after; it is the only
thing the app keeps in ``app.extensions``. Quart routes read it with :func:`services`; code that
runs outside Quart's context (the raw ASGI paths, the server) with :func:`services_of`.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
from quart import Quart, current_app

from chatactors.actors.registry import ChatRegistry
from chatactors.cluster.node import ClusterNode
from chatactors.domain.errors import ChatUnavailable
from chatactors.domain.ids import UserId
from chatactors.settings import Settings
from chatactors.storage.media.store import MediaStore
from chatactors.storage.media.upload import UploadLimits
from chatactors.storage.store import ChatStore
from chatactors.web.metrics import WebMetrics
from chatactors.web.rate_limit import SendLimiter

SERVICES_KEY = "chatactors.services"
#: Where uploads are served (``/media/<id>``).
MEDIA_PATH = "/media"


@attrs.frozen(eq=False)
class Media:
    """Uploaded files and the bot's bundled ones, with the URLs clients fetch them at."""

    store: MediaStore
    settings: Settings
    #: The bot's bundled files by name, as ids in the store.
    bot_assets: Mapping[str, str]

    @property
    def limits(self) -> UploadLimits:
        return UploadLimits(self.settings.max_image_bytes, self.settings.max_audio_bytes)

    def url(self, media_id: str) -> str:
        return f"{self.settings.base_url}{MEDIA_PATH}/{media_id}"


@attrs.frozen(eq=False)
class Services:
    """What routes and sockets need; eq=False: it holds live resources, compared by identity."""

    settings: Settings
    store: ChatStore
    registry: ChatRegistry
    media: Media
    metrics: WebMetrics
    #: On only with access control (users are then known); in cluster mode, for the cluster.
    rate_limiter: SendLimiter | None
    #: Cluster mode only (``redis_url``): this node's Redis directory, bus and forwarding.
    cluster: ClusterNode | None = None

    async def charge_send(self, user_id: UserId) -> None:
        """Count one message send. Raises ``RateLimited`` when ``user_id`` is over the limit."""
        if self.rate_limiter is not None:
            await self.rate_limiter.charge(user_id)


def services_of(app: Quart) -> Services | None:
    """The app's services; None while it is not serving (before start-up, after shutdown)."""
    found: Services | None = app.extensions.get(SERVICES_KEY)
    return found


def services() -> Services:
    """The running app's services, in a Quart request or WebSocket handler."""
    found = services_of(current_app)
    if found is None:
        raise ChatUnavailable("The server is not serving")
    return found
