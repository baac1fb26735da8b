"""GET|HEAD /media/<id> (and the bot's files under their old URLs): stored files served with
ETag, immutable caching and single byte ranges, read in large chunks by worker threads. See
docs/MEDIA.md."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from pathlib import Path
from types import TracebackType

import trio
from quart import Response, request
from quart.wrappers.response import ResponseBody

from chatactors.storage.media.store import MediaFile
from chatactors.web.error_responses import error_response
from chatactors.web.operations import Answer, Content, Schema, operation
from chatactors.web.services import services

#: Files are sent in chunks of this size (one worker-thread read each).
READ_CHUNK_BYTES = 256 * 1024
IMMUTABLE = "public, max-age=31536000, immutable"
#: The bot's files under their old names (/assets/bot/<name>) may change with a release.
BOT_ASSET_CACHE = "public, max-age=86400"


#: The file's bytes (or the requested range), with the Content-Type detected at upload.
FILE = Content(
    {kind: {"schema": {"type": "string", "format": "binary"}} for kind in ("image/*", "audio/*")}
)
_TEXT: Schema = {"schema": {"type": "string"}}
#: The headers of a served file.
FILE_HEADERS = {
    "ETag": _TEXT,
    "Cache-Control": _TEXT,
    "Accept-Ranges": _TEXT,
    "Content-Length": {"schema": {"type": "integer", "minimum": 0}},
}
SERVED_FILE = Answer("The file", FILE, FILE_HEADERS)
NOT_MODIFIED = Answer("Not modified (If-None-Match names its ETag).", None, FILE_HEADERS)


@operation(
    SERVED_FILE,
    answers={
        206: Answer(
            "One range of the file (Range: bytes=...)",
            FILE,
            {**FILE_HEADERS, "Content-Range": _TEXT},
        ),
        304: NOT_MODIFIED,
        404: "No such media.",
        416: "The range is not satisfiable.",
    },
)
async def get_media(media_id: str) -> Response:
    """The file (GET and HEAD), with ETag, immutable caching and single byte ranges."""
    found = await services().media.store.find(media_id)
    if found is None:
        return error_response(404, "No such media")
    return file_response(found, IMMUTABLE)


async def serve_bot_asset(name: str) -> Response:
    """A bundled bot file under its old URL /assets/bot/<name>, served like any upload."""
    media_id = services().media.bot_assets.get(name)
    found = None if media_id is None else await services().media.store.find(media_id)
    if found is None:
        return error_response(404, "No such bot asset")
    return file_response(found, BOT_ASSET_CACHE)


def file_response(found: MediaFile, cache_control: str) -> Response:
    """Answer GET/HEAD for ``found``: 200, 206 for one satisfiable range, 304, or 416."""
    etag = f'"{found.digest}"'
    headers = {
        "ETag": etag,
        "Cache-Control": cache_control,
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
    }
    if request.if_none_match.contains_weak(found.digest):
        not_modified = Response(b"", 304, headers)
        del not_modified.headers["Content-Length"]
        return _finish(not_modified, None)
    size = found.size
    begin, end, status = 0, size, 200
    wanted = request.range
    if_range = request.if_range
    # If-Range with another ETag (or a date: there is no Last-Modified) means "all of it".
    honour = (if_range.etag is None and if_range.date is None) or if_range.etag == found.digest
    if wanted is not None and wanted.units == "bytes" and len(wanted.ranges) == 1 and honour:
        start, stop = wanted.ranges[0]
        if start < 0:  # a suffix: the last -start bytes
            begin = max(0, size + start)
        elif start < size:
            begin, end = start, size if stop is None else min(stop, size)
        if start >= size or size == 0:
            headers["Content-Range"] = f"bytes */{size}"
            return _finish(error_response(416, "Range not satisfiable"), headers)
        status = 206
        headers["Content-Range"] = f"bytes {begin}-{end - 1}/{size}"
    body = b"" if request.method == "HEAD" else _FileRange(found.path, begin, end)
    response = Response(body, status, headers, content_type=found.media_type.content_type)
    response.content_length = end - begin
    return _finish(response, None)


def _finish(response: Response, headers: Mapping[str, str] | None) -> Response:
    response.headers.update(headers or {})
    # A 25 MiB file to a slow client may take longer than Quart's RESPONSE_TIMEOUT.
    response.timeout = None
    return response


class _FileRange(ResponseBody):
    """Bytes ``begin`` to ``end`` of a file, read in large chunks by worker threads."""

    def __init__(self, path: Path, begin: int, end: int) -> None:
        self._chunks = self._read(path, begin, end)

    async def __aenter__(self) -> AsyncIterator[bytes]:
        return self._chunks

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Closes the file too when the client went away before the end.
        await self._chunks.aclose()

    @staticmethod
    async def _read(path: Path, begin: int, end: int) -> AsyncGenerator[bytes, None]:
        async with await trio.open_file(path, "rb") as file:
            await file.seek(begin)
            left = end - begin
            while left > 0:
                chunk = await file.read(min(READ_CHUNK_BYTES, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk
