"""Why an upload is refused; each message is safe to show to the client."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager

from chatactors.storage.media.formats import MEDIA_TYPES, MediaKind

#: What a full (or size-capped) file system answers a write with.
NO_ROOM_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


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


class UnsupportedMedia(MediaError):
    def __init__(self) -> None:
        names = ", ".join(t.content_type for t in MEDIA_TYPES.values())
        super().__init__(f"Unsupported media type; accepted: {names}")


class EmptyUpload(MediaError):
    def __init__(self) -> None:
        super().__init__("The upload is empty")


@contextmanager
def no_room_is_storage_full() -> Iterator[None]:
    """Turn a write refused for want of room into :class:`StorageFull`."""
    try:
        yield
    except OSError as error:
        if error.errno in NO_ROOM_ERRNOS:
            raise StorageFull from error
        raise


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:g} MiB"
