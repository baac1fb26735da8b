"""POST /media and GET|HEAD /media/<id>: uploads of images and audio, served with Range support.

Uploads stream from the request body into the :class:`MediaStore` (never whole in memory);
files go out in large chunks read by worker threads. The store is part of the app's
:class:`Services` (web/services.py), outside the chat actors: media is not chat state. See
docs/MEDIA.md.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import ClassVar

import attrs
import trio
from quart import Blueprint, Quart, Response, request
from quart.wrappers.response import ResponseBody
from quart_schema import DataSource, document_request, document_response
from werkzeug.exceptions import RequestEntityTooLarge, RequestTimeout
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, File, MultipartDecoder, NeedData

from chatactors.actors.bot_replies import BOT_ASSETS
from chatactors.domain.errors import InvalidInput
from chatactors.settings import Settings
from chatactors.storage.media.errors import (
    EmptyUpload,
    MediaError,
    StorageFull,
    UnsupportedMedia,
    UploadTooLarge,
)
from chatactors.storage.media.store import MediaFile, MediaStore
from chatactors.storage.media.upload import StoredMedia, Upload, describe
from chatactors.web.connection import UPLOAD_MAX_BYTES_KEY
from chatactors.web.error_responses import error_response
from chatactors.web.services import MEDIA_PATH, Media, services
from chatactors.web.wire import ErrorOut, json_response

UPLOAD_PATH = MEDIA_PATH
#: Room for the multipart framing around the file, on top of the largest file limit.
MULTIPART_SLACK_BYTES = 64 * 1024
#: Files are sent in chunks of this size (one worker-thread read each).
READ_CHUNK_BYTES = 256 * 1024
IMMUTABLE = "public, max-age=31536000, immutable"
#: The bot's files under their old names (/assets/bot/<name>) may change with a release.
BOT_ASSET_CACHE = "public, max-age=86400"

blueprint = Blueprint("media", __name__)


@attrs.frozen
class UploadForm:
    """``multipart/form-data`` with the file in the field ``file`` (or send the raw bytes)."""

    file: bytes


@attrs.frozen
class MediaOut:
    id: str
    url: str
    content_type: str
    size: int
    width: int | None = None
    height: int | None = None


@attrs.frozen
class FileBytes:
    """The file's bytes (or the requested range), with the Content-Type detected at upload."""

    #: Not JSON: the document says so (web/openapi.py reads this).
    openapi_content: ClassVar[dict[str, object]] = {
        kind: {"schema": {"type": "string", "format": "binary"}} for kind in ("image/*", "audio/*")
    }


@attrs.frozen
class MediaHeaders:
    """The headers of a served file (its body is the file's bytes, or the requested range)."""

    content_type: str
    content_length: int
    etag: str
    cache_control: str
    accept_ranges: str
    content_range: str | None = None


# -- the bot's bundled files ---------------------------------------------------------------


def _bot_assets_dir() -> Path:
    return Path(str(resources.files("chatactors"))) / "bot_assets"


@functools.cache
def bot_asset_ids() -> Mapping[str, str]:
    """Each bundled bot file's media id (the files are read once, at start-up)."""
    found: dict[str, str] = {}
    for name in BOT_ASSETS:
        path = _bot_assets_dir() / name
        if path.is_file():
            found[name] = describe(path.read_bytes()).id
    return found


async def import_bot_assets(store: MediaStore) -> Mapping[str, str]:
    imported: dict[str, str] = {}
    for name in bot_asset_ids():
        data = await trio.Path(_bot_assets_dir() / name).read_bytes()
        imported[name] = (await store.add(data)).id
    return imported


# -- the routes ------------------------------------------------------------------------------


def install(app: Quart, settings: Settings) -> None:
    """Register the media routes on the app."""
    app.register_blueprint(blueprint)
    app.config[UPLOAD_MAX_BYTES_KEY] = (
        max(settings.max_image_bytes, settings.max_audio_bytes) + MULTIPART_SLACK_BYTES
    )


# -- upload ----------------------------------------------------------------------------------


@blueprint.post(UPLOAD_PATH)
@document_request(UploadForm, source=DataSource.FORM_MULTIPART)
@document_response(MediaOut)
@document_response(ErrorOut, 408)
@document_response(ErrorOut, 413)
@document_response(ErrorOut, 415)
@document_response(ErrorOut, 422)
async def upload_media() -> Response:
    """Upload one image or audio file; its type is detected from its bytes."""
    service = services().media
    mimetype, options = parse_options_header(request.headers.get("Content-Type", ""))
    try:
        async with service.store.upload(service.limits) as upload:
            if mimetype == "multipart/form-data":
                await _receive_multipart(upload, options.get("boundary", ""))
            else:
                async for chunk in request.body:
                    await upload.write(chunk)
            stored = await upload.finish()
    except MediaError as error:
        await _drain_body()
        return _refusal(error)
    return json_response(_to_wire(stored, service.url(stored.id)))


async def _drain_body() -> None:
    """Read and drop what the client is still sending (up to the route's body limit).

    Many clients (httpx, requests) send the whole body before they read the answer: refused
    mid-upload without this, they block on a full socket and never see the refusal.
    """
    # Past the limit or too slow: the refusal is still the answer (and the connection closes).
    with contextlib.suppress(RequestEntityTooLarge, RequestTimeout):
        async for _ in request.body:
            pass


async def _receive_multipart(upload: Upload, boundary: str) -> None:
    if not boundary:
        raise InvalidInput("multipart/form-data needs a boundary")
    # No memory cap in the decoder: it would count each received chunk against it, and the
    # events are drained after every chunk, so it never holds more than about one chunk.
    decoder = MultipartDecoder(boundary.encode("latin-1"), max_parts=32)
    state = "before"  # -> "file" while in the part named "file" -> "after"
    ended = False
    async for chunk in _chunks_then_end():
        try:
            decoder.receive_data(chunk)
            event = decoder.next_event()
            while not isinstance(event, NeedData | Epilogue):
                if isinstance(event, File) and event.name == "file" and state == "before":
                    state = "file"
                elif isinstance(event, Data) and state == "file":
                    await upload.write(event.data)
                    if not event.more_data:
                        state = "after"
                event = decoder.next_event()
        except ValueError as error:
            raise InvalidInput(f"Malformed multipart body: {error}") from None
        ended = ended or isinstance(event, Epilogue)
    if state == "before":
        raise InvalidInput("The multipart body has no 'file' field")
    if state == "file" or not ended:
        raise InvalidInput("The multipart body ended before the file did")


async def _chunks_then_end() -> AsyncIterator[bytes | None]:
    async for chunk in request.body:
        yield chunk
    yield None


_REFUSAL_STATUS: dict[type[MediaError], int] = {
    UploadTooLarge: 413,
    UnsupportedMedia: 415,
    EmptyUpload: 422,
    StorageFull: 503,  # with Retry-After: the server's condition, worth retrying
}


def _refusal(error: MediaError) -> Response:
    status = _REFUSAL_STATUS[type(error)]
    return error_response(status, str(error), retry_after_s=services().settings.retry_after_s)


@blueprint.errorhandler(RequestEntityTooLarge)
async def _body_too_large(error: RequestEntityTooLarge) -> Response:
    """Refused by the body limit of ``POST /media`` (its declared length, or the bytes sent)."""
    return _refusal(UploadTooLarge(services().media.limits.largest))


def _to_wire(stored: StoredMedia, url: str) -> dict[str, object]:
    wire: dict[str, object] = {
        "id": stored.id,
        "url": url,
        "content_type": stored.media_type.content_type,
        "size": stored.size,
    }
    if stored.width is not None and stored.height is not None:
        wire["width"], wire["height"] = stored.width, stored.height
    return wire


# -- serving ---------------------------------------------------------------------------------


@blueprint.get(f"{UPLOAD_PATH}/<media_id>")
@document_response(FileBytes, 200, MediaHeaders)
@document_response(FileBytes, 206, MediaHeaders)
@document_response(ErrorOut, 404)
@document_response(ErrorOut, 416)
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


# -- message contents ------------------------------------------------------------------------


async def check_content_references(content: str, service: Media | None = None) -> None:
    """Raise ``InvalidInput`` if ``content`` points at this server's /media/ but no such upload.

    ``service``: the media service, when called outside a Quart request (sockets).
    """
    service = service or services().media
    media_id = None
    for prefix in (service.url(""), f"{UPLOAD_PATH}/"):
        if content.startswith(prefix):
            media_id = content[len(prefix) :].split("?", 1)[0].split("#", 1)[0]
            break
    if media_id is None:
        return
    if await service.store.find(media_id) is None:
        shown = media_id if len(media_id) <= 80 else media_id[:80] + "..."
        raise InvalidInput(f"No such upload: {shown!r} (upload it with POST /media first)")
