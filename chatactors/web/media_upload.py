"""POST /media: one image or audio file, streamed from the request body into the media store
(never whole in memory), its type detected from its bytes. See docs/MEDIA.md."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import msgspec
from msgspec import UNSET, UnsetType
from quart import Response, request
from werkzeug.exceptions import RequestEntityTooLarge, RequestTimeout
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, File, MultipartDecoder, NeedData

from chatactors.domain.errors import InvalidInput
from chatactors.storage.media.errors import (
    EmptyUpload,
    MediaError,
    StorageFull,
    UnsupportedMedia,
    UploadTooLarge,
)
from chatactors.storage.media.formats import MEDIA_TYPES
from chatactors.storage.media.upload import StoredMedia, Upload
from chatactors.web.error_responses import error_response
from chatactors.web.operations import Content, operation
from chatactors.web.services import services

#: Room for the multipart framing around the file, on top of the largest file limit.
MULTIPART_SLACK_BYTES = 64 * 1024


class MediaOut(msgspec.Struct, frozen=True):
    """The stored file: ``url`` is where it is served (put it in a message's content)."""

    id: str
    url: str
    content_type: str
    size: int
    #: Images only.
    width: int | UnsetType = UNSET
    height: int | UnsetType = UNSET


_FILE = {"type": "string", "format": "binary"}
#: The file in the multipart field ``file``, or its bytes as the body: its type is detected
#: from its bytes (the Content-Type sent plays no part).
UPLOAD = Content(
    {
        "multipart/form-data": {
            "schema": {"type": "object", "properties": {"file": _FILE}, "required": ["file"]}
        },
        **{kind.content_type: {"schema": _FILE} for kind in MEDIA_TYPES.values()},
    }
)


@operation(
    MediaOut,
    "The stored file",
    body=UPLOAD,
    answers={
        408: "The upload did not arrive within upload_timeout_s, or fell behind the minimum pace.",
        413: "The file is larger than the limit of its kind (max_image_bytes, max_audio_bytes).",
        415: "The file is none of the accepted image and audio types.",
        422: "The file is empty, or the multipart body is malformed or has no 'file' field.",
        503: "The media store is full, or the server is not serving: retry after Retry-After.",
    },
)
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
    answer = _to_wire(stored, service.url(stored.id))
    return Response(msgspec.json.encode(answer), content_type="application/json")


async def body_too_large(error: RequestEntityTooLarge) -> Response:
    """Refused by the body limit of ``POST /media`` (its declared length, or the bytes sent)."""
    return _refusal(UploadTooLarge(services().media.limits.largest))


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


def _to_wire(stored: StoredMedia, url: str) -> MediaOut:
    content_type, size = stored.media_type.content_type, stored.size
    if stored.width is None or stored.height is None:
        return MediaOut(stored.id, url, content_type, size)
    return MediaOut(stored.id, url, content_type, size, stored.width, stored.height)
