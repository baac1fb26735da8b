"""The media types accepted, and what a media id looks like: ``<sha256 hex>.<extension>``."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping

import attrs


class MediaKind(enum.Enum):
    IMAGE = "image"
    AUDIO = "audio"


@attrs.frozen
class MediaType:
    """One accepted type: the extension used in ids, and the Content-Type it is served with."""

    extension: str
    content_type: str
    kind: MediaKind


MEDIA_TYPES: Mapping[str, MediaType] = {
    t.extension: t
    for t in (
        MediaType("png", "image/png", MediaKind.IMAGE),
        MediaType("jpg", "image/jpeg", MediaKind.IMAGE),
        MediaType("gif", "image/gif", MediaKind.IMAGE),
        MediaType("webp", "image/webp", MediaKind.IMAGE),
        MediaType("mp3", "audio/mpeg", MediaKind.AUDIO),
        MediaType("ogg", "audio/ogg", MediaKind.AUDIO),
        MediaType("webm", "audio/webm", MediaKind.AUDIO),
        MediaType("wav", "audio/wav", MediaKind.AUDIO),
        MediaType("m4a", "audio/mp4", MediaKind.AUDIO),
        MediaType("aac", "audio/aac", MediaKind.AUDIO),
    )
}

MEDIA_ID = re.compile(r"[0-9a-f]{64}\.(?:" + "|".join(MEDIA_TYPES) + ")")


def media_id_for(sha256_hex: str, media_type: MediaType) -> str:
    """The id of a file of ``media_type`` whose bytes have this SHA-256 digest."""
    return f"{sha256_hex}.{media_type.extension}"


def media_type_of(media_id: str) -> MediaType | None:
    """The type named by a well-formed id, or None if ``media_id`` is not one."""
    if MEDIA_ID.fullmatch(media_id) is None:
        return None
    return MEDIA_TYPES[media_id.rpartition(".")[2]]
