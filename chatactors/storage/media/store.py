"""MediaStore: the media directory, where uploads are written and stored files found."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import trio

from chatactors.storage.media.errors import no_room_is_storage_full
from chatactors.storage.media.formats import MediaType, media_type_of
from chatactors.storage.media.upload import StoredMedia, Upload, UploadLimits

#: Temporary files start with this; no media id does, so they are never served.
TEMP_PREFIX = ".upload-"


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


@attrs.frozen
class MediaStore:
    """The media directory. Make one with :func:`open_media_store`."""

    root: Path

    @asynccontextmanager
    async def upload(self, limits: UploadLimits) -> AsyncIterator[Upload]:
        """A temporary file to write an upload into; removed on exit unless finished."""
        temp_path = self.root / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
        with no_room_is_storage_full():
            file = await trio.to_thread.run_sync(temp_path.open, "xb")
        upload = Upload(self.root, limits, file, temp_path)
        try:
            yield upload
        finally:
            # Also when cancelled: a temporary file must not outlive its request.
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(upload.discard)

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
