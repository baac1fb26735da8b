"""One upload in progress (bytes in, a stored file out), and what bytes would be stored as.

The type is decided as soon as SNIFF_BYTES have arrived (or at the end, for smaller files), and
from then on the limit for its kind applies; before that, the largest limit does.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import IO

import attrs
import trio

from chatactors.storage.media.errors import (
    EmptyUpload,
    UnsupportedMedia,
    UploadTooLarge,
    no_room_is_storage_full,
)
from chatactors.storage.media.formats import MediaKind, MediaType, media_id_for
from chatactors.storage.media.image_size import image_size
from chatactors.storage.media.sniffing import SNIFF_BYTES, sniff

#: Uploaded bytes are handed to the writer thread in batches of about this size.
WRITE_BATCH_BYTES = 1024 * 1024


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


def describe(data: bytes) -> StoredMedia:
    """What ``data`` would be stored as (its id and type), without storing it."""
    media_type = sniff(data)
    if media_type is None:
        raise UnsupportedMedia
    size = image_size(media_type, data) if media_type.kind is MediaKind.IMAGE else None
    media_id = media_id_for(hashlib.sha256(data).hexdigest(), media_type)
    width, height = size if size else (None, None)
    return StoredMedia(media_id, media_type, len(data), width, height)


@attrs.define(eq=False)
class Upload:
    """One upload in progress: bytes in through :meth:`write`, a stored file out of :meth:`finish`.

    Made by ``MediaStore.upload``, which discards it unless finished.
    """

    #: The media directory, where the file is stored under its id.
    _root: Path
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
        media_id = media_id_for(self._hash.hexdigest(), media_type)
        with no_room_is_storage_full():
            await trio.to_thread.run_sync(self._commit, self._root / media_id)
        size = image_size(media_type, bytes(self._head))
        width, height = size if size else (None, None)
        return StoredMedia(media_id, media_type, self._size, width, height)

    def discard(self) -> None:
        """Close and remove the temporary file (blocking: run it in a worker thread)."""
        try:
            # On a full disk, closing flushes what is buffered and fails again: the bytes are
            # being thrown away, so that failure must not hide the one that brought us here.
            with contextlib.suppress(OSError):
                self._file.close()
        finally:
            self._temp_path.unlink(missing_ok=True)

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
            with no_room_is_storage_full():
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
