"""A file's media type from its first bytes (never from what the client claims)."""

from __future__ import annotations

from collections.abc import Mapping

import puremagic

from chatactors.storage.media.formats import MEDIA_TYPES, MediaType

#: How many leading bytes decide the type (and, for images, the dimensions).
SNIFF_BYTES = 64 * 1024

#: puremagic's extensions for the accepted types, mapped to ours.
_PUREMAGIC_EXTENSIONS: Mapping[str, str] = {
    "png": "png",
    "jpg": "jpg",
    "jpeg": "jpg",
    "jpe": "jpg",
    "jfif": "jpg",
    "gif": "gif",
    "webp": "webp",
    "mp3": "mp3",
    "mpga": "mp3",
    "ogg": "ogg",
    "oga": "ogg",
    "opus": "ogg",
    "webm": "webm",
    "wav": "wav",
    "m4a": "m4a",
    "f4a": "m4a",
    "m4b": "m4a",
    "mp4": "m4a",
    "aac": "aac",
}


def sniff(head: bytes) -> MediaType | None:
    """The accepted type of a file starting with ``head`` (its first SNIFF_BYTES), if any.

    puremagic ranks its guesses by confidence; only its most confident ones count, so a
    Matroska video is not taken for its weaker WebM guess. MPEG audio has no real magic
    number (puremagic ranks ID3-tagged files as another format and misses MPEG-2 frames),
    so it is recognised here by its ID3 tag or frame header.
    """
    head = head[:SNIFF_BYTES]
    if not head:
        return None
    try:
        guesses = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        guesses = []
    if guesses:
        best = max(g.confidence for g in guesses)
        for guess in guesses:
            ours = _PUREMAGIC_EXTENSIONS.get(guess.extension.lstrip(".").lower())
            if guess.confidence == best and ours is not None:
                return MEDIA_TYPES[ours]
    if _looks_like_mpeg_audio(head):
        return MEDIA_TYPES["mp3"]
    return None


def _looks_like_mpeg_audio(head: bytes) -> bool:
    if head.startswith(b"ID3") and len(head) >= 10 and head[3] < 0xFF:
        return True
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, sample_rate = head[2] >> 4, (head[2] >> 2) & 3
    return version != 1 and layer == 1 and bitrate != 15 and sample_rate != 3
