"""Regenerate the bot's bundled media (chatactors/bot_assets) with the standard library only.

Run: python scripts/make_bot_assets.py
"""

from __future__ import annotations

import math
import struct
import wave
import zlib
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "chatactors" / "bot_assets"


def write_png(path: Path, width: int, height: int, pixel) -> None:  # type: ignore[no-untyped-def]
    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel(x, y, width, height)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        checksum = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + checksum

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def sunrise(x: int, y: int, w: int, h: int) -> tuple[int, int, int]:
    sun = (x - w / 2) ** 2 + (y - h * 0.62) ** 2 < (h * 0.18) ** 2
    if y > h * 0.62:
        return (40, 70 + y * 60 // h, 120)
    if sun:
        return (255, 214, 102)
    t = y / (h * 0.62)
    return (int(255 - 90 * t), int(140 + 60 * t), int(90 + 140 * t))


def waves(x: int, y: int, w: int, h: int) -> tuple[int, int, int]:
    crest = h / 2 + math.sin(x / w * 6 * math.pi) * h / 10
    if y > crest:
        shade = int(40 * math.sin(y / 7))
        return (20, 110 + shade, 170 + shade // 2)
    return (200, 230, 250)


def write_wav(path: Path, notes: list[tuple[float, float]], rate: int = 16000) -> None:
    frames = bytearray()
    for freq, seconds in notes:
        count = int(rate * seconds)
        for i in range(count):
            envelope = min(1.0, i / 400, (count - i) / 800)
            sample = 0.4 * envelope * math.sin(2 * math.pi * freq * i / rate)
            frames += struct.pack("<h", int(sample * 32767))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))


if __name__ == "__main__":
    ASSETS.mkdir(exist_ok=True)
    write_png(ASSETS / "sunrise.png", 320, 200, sunrise)
    write_png(ASSETS / "waves.png", 320, 200, waves)
    write_wav(ASSETS / "chime.wav", [(880, 0.25), (1320, 0.25), (1760, 0.5)])
    write_wav(ASSETS / "hello.wav", [(523, 0.3), (659, 0.3), (784, 0.3), (1046, 0.6)])
