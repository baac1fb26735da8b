"""MediaStore: uploaded images and audio as content-addressed files under one directory.

A file's id is ``<sha256 of its bytes>.<extension>``; the extension is chosen from the file's
first bytes (never from what the client claims) and names its content type, so serving needs
no second look at the bytes. Uploads are written to a temporary file in the same directory,
flushed to disk and then renamed, so a crash never leaves a partial file under a real id, and
the same bytes uploaded twice are stored once. All file I/O runs in worker threads.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import hashlib
import os
import re
import secrets
import shutil
import struct
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import IO

import attrs
import puremagic
import trio

#: How many leading bytes decide the type (and, for images, the dimensions).
SNIFF_BYTES = 64 * 1024
#: Uploaded bytes are handed to the writer thread in batches of about this size.
WRITE_BATCH_BYTES = 1024 * 1024
#: Temporary files start with this; no media id does, so they are never served.
TEMP_PREFIX = ".upload-"


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

MEDIA_ID = re.compile(r"[0-9a-f]{64}\.(?:" + "|".join(MEDIA_TYPES) + ")")


class MediaError(Exception):
    """Base of the reasons an upload is refused; the message is safe to show to the client."""


class UploadTooLarge(MediaError):
    def __init__(self, limit: int, kind: MediaKind | None = None) -> None:
        # Name the limit that applied: the kind's once the type is known, else the largest.
        what = f"the {kind.value} limit" if kind is not None else "the largest upload limit"
        super().__init__(f"The file is larger than {what} of {limit} bytes ({_mib(limit)})")
        self.limit = limit


class StorageFull(MediaError):
    """The file system has no room (ENOSPC, EDQUOT) or refuses a file this size (EFBIG).

    The server's condition, not the client's: the upload may succeed later.
    """

    def __init__(self) -> None:
        super().__init__("The server has no room to store the upload now; retry later")


#: What a full (or size-capped) file system answers a write with.
NO_ROOM_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:g} MiB"


class UnsupportedMedia(MediaError):
    def __init__(self) -> None:
        names = ", ".join(t.content_type for t in MEDIA_TYPES.values())
        super().__init__(f"Unsupported media type; accepted: {names}")


class EmptyUpload(MediaError):
    def __init__(self) -> None:
        super().__init__("The upload is empty")


@attrs.frozen
class UploadLimits:
    image_bytes: int
    audio_bytes: int

    @property
    def largest(self) -> int:
        return max(self.image_bytes, self.audio_bytes)

    def for_kind(self, kind: MediaKind) -> int:
        return self.image_bytes if kind is MediaKind.IMAGE else self.audio_bytes


@attrs.frozen
class StoredMedia:
    """The answer to an upload."""

    id: str
    media_type: MediaType
    size: int
    width: int | None = None
    height: int | None = None


@attrs.frozen
class MediaFile:
    """A stored file, found by id, ready to be served."""

    id: str
    path: Path
    media_type: MediaType
    size: int

    @property
    def digest(self) -> str:
        return self.id.partition(".")[0]


def media_type_of(media_id: str) -> MediaType | None:
    """The type named by a well-formed id, or None if ``media_id`` is not one."""
    if MEDIA_ID.fullmatch(media_id) is None:
        return None
    return MEDIA_TYPES[media_id.rpartition(".")[2]]


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


def describe(data: bytes) -> StoredMedia:
    """What ``data`` would be stored as (its id and type), without storing it."""
    media_type = sniff(data)
    if media_type is None:
        raise UnsupportedMedia
    size = image_size(media_type, data) if media_type.kind is MediaKind.IMAGE else None
    media_id = f"{hashlib.sha256(data).hexdigest()}.{media_type.extension}"
    width, height = size if size else (None, None)
    return StoredMedia(media_id, media_type, len(data), width, height)


@attrs.define(eq=False)
class Upload:
    """One upload in progress: bytes in through :meth:`write`, a stored file out of :meth:`finish`.

    The type is decided as soon as SNIFF_BYTES have arrived (or at the end, for smaller files),
    and from then on the limit for its kind applies; before that, the largest limit does.
    """

    _store: MediaStore
    _limits: UploadLimits
    _file: IO[bytes]
    _temp_path: Path
    _hash: hashlib._Hash = attrs.field(factory=hashlib.sha256)
    _head: bytearray = attrs.field(factory=bytearray)
    _pending: bytearray = attrs.field(factory=bytearray)
    _size: int = 0
    _media_type: MediaType | None = None

    async def write(self, data: bytes) -> None:
        """Add bytes.

        Raises:
            UploadTooLarge: over the limit of the file's kind (or the largest, if not known yet).
            UnsupportedMedia: the first SNIFF_BYTES are not an accepted type.
        """
        if not data:
            return
        self._size += len(data)
        if self._media_type is None:
            self._head += data[: SNIFF_BYTES - len(self._head)]
            if len(self._head) >= SNIFF_BYTES:
                self._media_type = self._sniff()
        self._check_size()
        self._pending += data
        if len(self._pending) >= WRITE_BATCH_BYTES:
            await self._flush()

    async def finish(self) -> StoredMedia:
        """Store the file under its id (once, however often the same bytes are uploaded)."""
        if self._size == 0:
            raise EmptyUpload
        media_type = self._media_type or self._sniff()
        self._media_type = media_type
        self._check_size()
        await self._flush()
        media_id = f"{self._hash.hexdigest()}.{media_type.extension}"
        with _no_room_is_storage_full():
            await trio.to_thread.run_sync(self._commit, self._store.root / media_id)
        size = image_size(media_type, bytes(self._head))
        width, height = size if size else (None, None)
        return StoredMedia(media_id, media_type, self._size, width, height)

    def _sniff(self) -> MediaType:
        found = sniff(bytes(self._head))
        if found is None:
            raise UnsupportedMedia
        return found

    def _check_size(self) -> None:
        kind = None if self._media_type is None else self._media_type.kind
        limit = self._limits.largest if kind is None else self._limits.for_kind(kind)
        if self._size > limit:
            raise UploadTooLarge(limit, kind)

    async def _flush(self) -> None:
        if self._pending:
            batch, self._pending = bytes(self._pending), bytearray()
            with _no_room_is_storage_full():
                await trio.to_thread.run_sync(self._write_batch, batch)

    def _write_batch(self, batch: bytes) -> None:
        self._hash.update(batch)
        self._file.write(batch)

    def _commit(self, final: Path) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        if final.exists():
            self._temp_path.unlink()
        else:
            self._temp_path.replace(final)

    def _discard(self) -> None:
        try:
            # On a full disk, closing flushes what is buffered and fails again: the bytes are
            # being thrown away, so that failure must not hide the one that brought us here.
            with contextlib.suppress(OSError):
                self._file.close()
        finally:
            self._temp_path.unlink(missing_ok=True)


@contextmanager
def _no_room_is_storage_full() -> Iterator[None]:
    try:
        yield
    except OSError as error:
        if error.errno in NO_ROOM_ERRNOS:
            raise StorageFull from error
        raise


@attrs.frozen
class MediaStore:
    """The media directory. Make one with :func:`open_media_store`."""

    root: Path

    @asynccontextmanager
    async def upload(self, limits: UploadLimits) -> AsyncIterator[Upload]:
        """A temporary file to write an upload into; removed on exit unless finished."""
        temp_path = self.root / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
        with _no_room_is_storage_full():
            file = await trio.to_thread.run_sync(temp_path.open, "xb")
        upload = Upload(self, limits, file, temp_path)
        try:
            yield upload
        finally:
            # Also when cancelled: a temporary file must not outlive its request.
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(upload._discard)

    async def add(self, data: bytes, limits: UploadLimits | None = None) -> StoredMedia:
        """Store bytes already in memory (the bot's bundled files)."""
        limits = limits or UploadLimits(len(data), len(data))
        async with self.upload(limits) as upload:
            await upload.write(data)
            return await upload.finish()

    async def find(self, media_id: str) -> MediaFile | None:
        """The stored file ``media_id`` names, or None (also for anything that is not an id)."""
        media_type = media_type_of(media_id)
        if media_type is None:
            return None
        path = self.root / media_id
        try:
            size = (await trio.Path(path).stat()).st_size
        except FileNotFoundError:
            return None
        return MediaFile(media_id, path, media_type, size)


@asynccontextmanager
async def open_media_store(root: Path | None) -> AsyncIterator[MediaStore]:
    """The store in ``root`` (created if needed; stale temporary files are removed).

    With ``root`` None the files go to a new temporary directory, deleted on exit.
    """
    if root is not None:
        await trio.to_thread.run_sync(_prepare, root)
        yield MediaStore(root)
        return
    temporary = await trio.to_thread.run_sync(tempfile.mkdtemp, None, "chatactors-media-")
    try:
        yield MediaStore(Path(temporary))
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(shutil.rmtree, temporary, True)


def _prepare(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(TEMP_PREFIX + "*"):
        stale.unlink(missing_ok=True)
