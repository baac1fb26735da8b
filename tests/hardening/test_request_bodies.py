"""Request bodies against a real Hypercorn on 127.0.0.1, over raw sockets.

A body too slow gets 408 within its pace (web/body_pace.py) and leaves no temporary file; one
that keeps its pace arrives whole, stalls and all; a declared ``Content-Length`` over the limit
gets 413 before any of the body is sent; a request with both ``Content-Length`` and
``Transfer-Encoding`` gets 400. Each early answer says ``Connection: close`` and the server
closes. The paces are small here (a second or so); the times asserted are generous bounds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.hardening.raw_socket import AnswerReader, RawAnswer, request_head
from tests.harness.clients import WAIT_S
from tests.harness.served_app import ServedApp, served_app, served_settings
from tests.media import samples

#: On top of a pace's deadline, for a loaded machine.
SLACK_S = 5.0


@asynccontextmanager
async def connect(server: ServedApp) -> AsyncIterator[AnswerReader]:
    async with await trio.open_tcp_stream("127.0.0.1", server.port) as stream:
        yield AnswerReader(stream)


async def send_slowly(stream: trio.SocketStream, chunk: bytes, every_s: float, count: int) -> None:
    """A slow client: ``chunk`` every ``every_s`` seconds, ``count`` times, or until refused."""
    for _ in range(count):
        try:
            await stream.send_all(chunk)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return
        await trio.sleep(every_s)  # the pace of the client under test, not a wait for the server


async def answer_while_sending(
    reader: AnswerReader, head: bytes, chunk: bytes, every_s: float, count: int
) -> tuple[RawAnswer, float]:
    """Send ``head``, then the body slowly; the answer, read meanwhile, and how long after
    ``head`` began to go out it came."""
    started = trio.current_time()
    await reader.stream.send_all(head)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(send_slowly, reader.stream, chunk, every_s, count)
        answer = await reader.answer()
        nursery.cancel_scope.cancel()
    return answer, trio.current_time() - started


def temporary_files(server: ServedApp) -> list[Path]:
    return sorted((server.settings.data_dir / "media").glob(".upload-*"))


def assert_closing(answer: RawAnswer, status: int) -> None:
    assert answer.status == status, answer
    assert answer.headers["connection"] == "close"
    assert answer.json()["detail"]


@pytest.mark.parametrize(
    ("pace", "chunk", "every_s", "deadline_s"),
    [
        # A trickle: one byte every 50 ms, behind 10 kB/s from the end of the grace on.
        ({"upload_grace_s": 0.5, "upload_min_bytes_per_s": 10_000}, b"x", 0.05, 0.5),
        # Fast enough for any minimum rate, but endless: the total deadline ends it.
        ({"upload_timeout_s": 1.0, "upload_min_bytes_per_s": 0}, b"x" * 1024, 0.01, 1.0),
    ],
    ids=["below-the-minimum-rate", "past-the-total-deadline"],
)
async def test_a_slow_upload_gets_408_within_its_pace_and_leaves_no_file(
    tmp_path: Path, pace: dict[str, Any], chunk: bytes, every_s: float, deadline_s: float
) -> None:
    with trio.fail_after(WAIT_S + SLACK_S):
        async with served_app(served_settings(tmp_path, **pace)) as server:
            async with connect(server) as reader:
                head = request_head("POST", "/media", ("Content-Length", "20000000"))
                head += samples.wav(frames=1000)[:1000]
                answer, elapsed = await answer_while_sending(reader, head, chunk, every_s, 10_000)
                assert_closing(answer, 408)
                assert "did not arrive in time" in answer.json()["detail"]
                assert deadline_s <= elapsed < deadline_s + SLACK_S
                assert await reader.closed()
                assert temporary_files(server) == []
            # The server serves on.
            assert (await server.http.get("/healthz")).status_code == 200


async def test_an_upload_that_keeps_its_pace_arrives_whole_stalls_and_all(
    tmp_path: Path,
) -> None:
    # After the grace, 200 kB/s on average since the start: the first 768 KiB buy about
    # 4 s, so a 1 s stall (twice the grace) costs nothing.
    settings = served_settings(tmp_path, upload_grace_s=0.5, upload_min_bytes_per_s=200_000)
    data = samples.wav(frames=512 * 1024)
    first, rest = data[: 768 * 1024], data[768 * 1024 :]
    with trio.fail_after(WAIT_S + SLACK_S):
        async with served_app(settings) as server, connect(server) as reader:
            head = request_head("POST", "/media", ("Content-Length", str(len(data))))
            await reader.stream.send_all(head + first)
            await trio.sleep(1.0)  # the client stalls (a tunnel)
            await reader.stream.send_all(rest)
            answer = await reader.answer()
            assert answer.status == 200, answer
            assert answer.json()["size"] == len(data)
            assert "connection" not in answer.headers  # kept alive for the next request
            stored = await server.http.get(answer.json()["url"].removeprefix(server.url))
            assert stored.content == data
            assert temporary_files(server) == []


async def test_a_slow_json_body_gets_408_and_the_connection_closes(tmp_path: Path) -> None:
    settings = served_settings(tmp_path, body_timeout_s=0.5)
    with trio.fail_after(WAIT_S + SLACK_S):
        async with served_app(settings) as server, connect(server) as reader:
            head = request_head("POST", "/chats", ("Content-Length", "40"))
            answer, elapsed = await answer_while_sending(reader, head, b" ", 0.05, 39)
            assert_closing(answer, 408)
            assert 0.5 <= elapsed < 0.5 + SLACK_S
            assert await reader.closed()


@pytest.mark.parametrize(
    ("path", "declared", "detail"),
    [
        ("/chats", 12 * 1024 * 1024 + 1, "limit of 12582912 bytes"),
        ("/media", 1024 * 1024 * 1024, "largest upload limit of 26214400 bytes"),
    ],
)
async def test_a_declared_length_over_the_limit_is_413_before_the_body(
    tmp_path: Path, path: str, declared: int, detail: str
) -> None:
    # Only the headers are sent: an answer that waits for the body never comes.
    with trio.fail_after(WAIT_S):
        async with served_app(served_settings(tmp_path)) as server, connect(server) as reader:
            head = request_head("POST", path, ("Content-Length", str(declared)))
            await reader.stream.send_all(head)
            answer = await reader.answer()
            assert_closing(answer, 413)
            assert detail in answer.json()["detail"]
            assert await reader.closed()
            assert temporary_files(server) == []


async def test_a_413_reaches_a_client_that_keeps_sending_and_the_connection_closes(
    tmp_path: Path,
) -> None:
    # The client sends its body regardless (chunked, up to 8 MiB), and the refusal takes a
    # while (a before-request hook stands for a busy server): what arrives meanwhile must be
    # read and dropped, or Hypercorn's queue of body events fills and the connection, its
    # answer sent, never closes.
    chunk = b"%x\r\n%s\r\n" % (65536, b" " * 65536)
    with trio.fail_after(WAIT_S):
        async with served_app(served_settings(tmp_path, max_body_bytes=1000)) as server:

            @server.app.before_request
            async def busy() -> None:
                await trio.sleep(0.5)  # the busy server itself: the refusal comes this late

            async with connect(server) as reader:
                head = request_head("POST", "/chats", ("Transfer-Encoding", "chunked"))
                answer, _ = await answer_while_sending(reader, head, chunk, 0.0, 128)
                assert_closing(answer, 413)
                assert await reader.closed()


async def test_both_content_length_and_transfer_encoding_is_400_and_closes(
    tmp_path: Path,
) -> None:
    body = b'{"participants": ["alice"]}'
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    with trio.fail_after(WAIT_S):
        async with served_app(served_settings(tmp_path)) as server:
            # The same request with one framing: answered, and the connection kept.
            async with connect(server) as reader:
                for _ in range(2):
                    await reader.stream.send_all(
                        request_head("POST", "/chats", ("Transfer-Encoding", "chunked")) + chunked
                    )
                    assert (await reader.answer()).status == 200
            # Both: refused, and the connection closed (RFC 9112 section 6.1).
            async with connect(server) as reader:
                both = request_head(
                    "POST", "/chats", ("Content-Length", "5"), ("Transfer-Encoding", "chunked")
                )
                await reader.stream.send_all(both + chunked)
                answer = await reader.answer()
                assert_closing(answer, 400)
                assert "Content-Length and Transfer-Encoding" in answer.json()["detail"]
                assert await reader.closed()
            assert (await server.http.get("/chats")).status_code == 200
