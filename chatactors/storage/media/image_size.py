"""An image's width and height, read from its header (PNG, GIF, WebP, JPEG)."""

from __future__ import annotations

import struct

from chatactors.storage.media.formats import MediaType


def image_size(media_type: MediaType, head: bytes) -> tuple[int, int] | None:
    """(width, height) read from an image's header, when it is within ``head``."""
    try:
        match media_type.extension:
            case "png" if head[12:16] == b"IHDR":
                return _pair(struct.unpack(">II", head[16:24]))
            case "gif":
                return _pair(struct.unpack("<HH", head[6:10]))
            case "webp":
                return _webp_size(head)
            case "jpg":
                return _jpeg_size(head)
    except (struct.error, IndexError):
        return None
    return None


def _pair(values: tuple[int, ...]) -> tuple[int, int]:
    return values[0], values[1]


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(head[24:27], "little") + 1
        return width, int.from_bytes(head[27:30], "little") + 1
    if chunk == b"VP8L" and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None


_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    at = 2
    while at + 9 <= len(head):
        if head[at] != 0xFF:
            return None
        marker = head[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _JPEG_FRAME_MARKERS:
            height, width = struct.unpack(">HH", head[at + 5 : at + 9])
            return width, height
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header before
            return None
        (length,) = struct.unpack(">H", head[at + 2 : at + 4])
        at += 2 + length
    return None
