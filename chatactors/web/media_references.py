"""Message contents that point at this server's media must name an upload that exists."""

from __future__ import annotations

from chatactors.domain.errors import InvalidInput
from chatactors.web.services import MEDIA_PATH, Media, services


async def check_content_references(content: str, service: Media | None = None) -> None:
    """Raise ``InvalidInput`` if ``content`` points at this server's /media/ but no such upload.

    ``service``: the media service, when called outside a Quart request (sockets).
    """
    service = service or services().media
    media_id = None
    for prefix in (service.url(""), f"{MEDIA_PATH}/"):
        if content.startswith(prefix):
            media_id = content[len(prefix) :].split("?", 1)[0].split("#", 1)[0]
            break
    if media_id is None:
        return
    if await service.store.find(media_id) is None:
        shown = media_id if len(media_id) <= 80 else media_id[:80] + "..."
        raise InvalidInput(f"No such upload: {shown!r} (upload it with POST /media first)")
