"""POST /media and GET /media/<id>: uploads of images and audio (filled in by issue 4)."""

from __future__ import annotations

from quart import Quart

from chatactors.settings import Settings


def install(app: Quart, settings: Settings) -> None:
    """Register the media routes and the media store's lifetime on the app."""


async def check_content_references(content: str) -> None:
    """Raise ``InvalidInput`` if ``content`` points at this server's /media/ but no such upload."""
