"""Message tokens: the identity that makes loss, duplication and latency measurable."""

import pytest

from chatactors.bench.tokens import Token, parse_token


def test_round_trip() -> None:
    token = Token(worker=3, n=41, send_ns=123_456_789)
    assert token.encode() == "bench:3:41:123456789"
    assert parse_token(token.encode()) == token


@pytest.mark.parametrize(
    "content",
    [
        None,
        42,
        "",
        "hello",
        "bench:",
        "bench:1:2",
        "bench:1:2:3:4",
        "bench:a:2:3",
        "bench:1:-2:3",
        "warmup:0:1",
        "xbench:1:2:3",
    ],
)
def test_rejects_anything_else(content: object) -> None:
    assert parse_token(content) is None
