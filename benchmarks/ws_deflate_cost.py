"""What permessage-deflate would cost and save on chatactors' frames (why it is not offered).

Encodes a stream of frames as one socket of a busy chat receives them (``message_received`` of
chat-length texts, ``presence_updated``, ``chat_read``, in the wire shapes of web/wire_out.py),
then compresses each as RFC 7692 does: raw deflate, a sync flush, the 4-byte tail dropped; with
the compressor kept between messages (context takeover, what browsers negotiate by default)
and without. Prints bytes per frame before and after, CPU per frame to compress (this process,
``time.process_time``), and the memory one socket's compressor holds once it has compressed a
frame (RSS of ``--sockets`` compressors, each after one frame). Pure computation on this
machine; nothing is sent anywhere.

    .venv/bin/python benchmarks/ws_deflate_cost.py
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
import zlib
from pathlib import Path

import orjson

VOCABULARY = (
    "the be to of and a in that have I it for not on with he as you do at this but his by from "
    "they we say her she or an will my one all would there their what so up out if about who "
    "get which go me when make can like time no just him know take people into year your good "
    "some could them see other than then now look only come its over think also back after use "
    "two how our work first well way even new want because any these give day most us meeting "
    "tomorrow lunch deploy review ticket link thanks ok sure great later call tonight"
)
WORDS = VOCABULARY.split()


def frames(count: int, rng: random.Random) -> list[bytes]:
    """The frames one socket of a busy group chat receives, reference-shaped."""
    chat_id = str(uuid.UUID(int=rng.getrandbits(128)))
    users = [f"user{i}" for i in range(8)]
    out: list[bytes] = []
    seq = 0
    for _ in range(count):
        roll = rng.random()
        if roll < 0.7:
            seq += 1
            words = rng.randint(2, 30)
            event = {"event": "message_received", "data": {
                "id": str(uuid.UUID(int=rng.getrandbits(128))), "user_id": rng.choice(users),
                "type": "text", "content": " ".join(rng.choice(WORDS) for _ in range(words)),
                "timestamp": f"2026-12-07T12:{seq // 60 % 60:02d}:{seq % 60:02d}.123456Z",
                "seq": seq,
            }}  # fmt: skip
        elif roll < 0.9:
            event = {"event": "presence_updated", "data": {
                "user_id": rng.choice(users), "status": rng.choice(["online", "typing"]),
                "last_seen": "2026-12-07T12:00:00.000000Z",
            }}  # fmt: skip
        else:
            event = {"event": "chat_read", "data": {
                "chat_id": chat_id, "user_id": rng.choice(users),
                "last_read_message_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "last_read_seq": seq,
            }}  # fmt: skip
        out.append(orjson.dumps(event))
    return out


def compressed_sizes(stream: list[bytes], *, takeover: bool) -> tuple[list[int], float]:
    """Each frame's compressed size and the CPU seconds it took (RFC 7692 framing)."""
    sizes = []
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    started = time.process_time()
    for frame in stream:
        if not takeover:
            compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        data = compressor.compress(frame) + compressor.flush(zlib.Z_SYNC_FLUSH)
        sizes.append(len(data) - 4)
    return sizes, time.process_time() - started


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--sockets", type=int, default=1000)
    args = parser.parse_args()
    stream = frames(min(args.frames, 200_000), random.Random(7))
    raw = sum(map(len, stream)) / len(stream)
    print(f"frames: {len(stream)}, mean {raw:.0f} bytes each uncompressed")
    for takeover in (True, False):
        sizes, cpu_s = compressed_sizes(stream, takeover=takeover)
        mean = sum(sizes) / len(sizes)
        label = "with context takeover" if takeover else "without context takeover"
        print(f"deflate {label}: mean {mean:.0f} bytes ({mean / raw:.0%} of the frame), "
              f"{cpu_s / len(stream) * 1e6:.1f} µs of CPU per frame to compress")  # fmt: skip
    before = rss_kb()
    kept = []
    for frame in stream[: min(args.sockets, 10_000)]:
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        compressor.compress(frame)
        compressor.flush(zlib.Z_SYNC_FLUSH)
        kept.append(compressor)
    print(f"one socket's compressor after its first frame: "
          f"{(rss_kb() - before) / len(kept):.0f} kB of RSS")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
