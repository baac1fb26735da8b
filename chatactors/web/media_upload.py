"""POST /media: one image or audio file, streamed from the request body into the media store
(never whole in memory), its type detected from its bytes. See docs/MEDIA.md."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import attrs
from quart import Response, request
from quart_schema import DataSource, document_request, document_response
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
from chatactors.storage.media.upload import StoredMedia, Upload
from chatactors.web.error_responses import error_response
from chatactors.web.services import services
from chatactors.web.wire import ErrorOut, json_response

#: Room for the multipart framing around the file, on top of the largest file limit.
MULTIPART_SLACK_BYTES = 64 * 1024


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
