"""Type detection and image dimensions from a file's first bytes (no I/O)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chatactors.storage.media.formats import media_type_of
from chatactors.storage.media.image_size import image_size
from chatactors.storage.media.sniffing import sniff
from chatactors.storage.media.upload import describe
from tests.media import samples


@pytest.mark.parametrize(
    ("make", "content_type"),
    [
        (samples.png, "image/png"),
        (samples.jpeg, "image/jpeg"),
        (samples.gif, "image/gif"),
        (samples.webp, "image/webp"),
        (samples.mp3, "audio/mpeg"),
        (lambda: b"ID3\x04\x00\x00\x00\x00\x00\x00" + samples.mp3(), "audio/mpeg"),
        (samples.ogg_opus, "audio/ogg"),
        (samples.webm, "audio/webm"),
        (samples.wav, "audio/wav"),
        (samples.mp4, "audio/mp4"),
        (lambda: b"\xff\xf1\x50\x80\x02\x1f\xfc" + b"\x00" * 20, "audio/aac"),
    ],
)
def test_accepted_types_are_detected_from_bytes(
    make: Callable[[], bytes], content_type: str
) -> None:
    found = sniff(make())
    assert found is not None
    assert found.content_type == content_type


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, I am a PNG, honest",
        b"<svg xmlns='http://www.w3.org/2000/svg'></svg>",
        b"<html><body>x</body></html>",
        b"%PDF-1.4\n" + b"x" * 40,
        b"BM" + b"\x00" * 60,
        # Matroska video: the WebM guess is weaker than the Matroska one.
        b"\x1aE\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08"
        b"\x42\x82\x88matroska\x42\x87\x81\x04",
    ],
)
def test_other_bytes_are_not_accepted(data: bytes) -> None:
    assert sniff(data) is None


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (samples.png(3, 2), (3, 2)),
        (samples.gif(5, 7), (5, 7)),
        (samples.jpeg(11, 9), (11, 9)),
        (samples.webp(9, 4), (9, 4)),
    ],
)
def test_image_dimensions_come_from_the_header(data: bytes, size: tuple[int, int]) -> None:
    media_type = sniff(data)
    assert media_type is not None
    assert image_size(media_type, data) == size


def test_truncated_image_header_has_no_dimensions() -> None:
    media_type = sniff(samples.png())
    assert media_type is not None
    assert image_size(media_type, samples.png()[:20]) is None


def test_id_is_sha256_and_extension() -> None:
    stored = describe(samples.png())
    assert stored.id.endswith(".png")
    assert media_type_of(stored.id) == stored.media_type


@pytest.mark.parametrize(
    "candidate",
    [
        "../etc/passwd",
        "a" * 64 + ".exe",
        "A" * 64 + ".png",
        "a" * 63 + ".png",
        "a" * 64 + ".png/..",
        "a" * 64 + "..png",
        "/" + "a" * 64 + ".png",
        ".upload-0123456789abcdef",
    ],
)
def test_malformed_ids_name_nothing(candidate: str) -> None:
    assert media_type_of(candidate) is None
