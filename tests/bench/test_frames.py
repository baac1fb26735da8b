"""Decoding socket frames into bench deliveries, and splitting work between workers."""

import orjson
import pytest

from chatactors.bench import sockets, workers
from chatactors.bench.fanout import FanoutSpec
from chatactors.bench.httpclient import Target


def _message(user_id: str, content: str) -> dict[str, object]:
    return {"event": "message_received", "data": {"user_id": user_id, "content": content}}


def test_reference_frame_is_one_event() -> None:
    frame = orjson.dumps(_message("u0", "hi")).decode()
    assert sockets.decode_frame(frame, subprotocol=False) == [_message("u0", "hi")]


def test_subprotocol_frame_is_an_array() -> None:
    events = [_message("u0", "a"), {"event": "ack", "data": {"ref": "1"}}, _message("u1", "b")]
    assert sockets.decode_frame(orjson.dumps(events), subprotocol=True) == events
    with pytest.raises(ValueError, match="array"):
        sockets.decode_frame(orjson.dumps(_message("u0", "a")), subprotocol=True)


def test_bot_and_other_events_are_not_deliveries() -> None:
    events = [
        _message("bot_user", "bench:0:1:2"),
        {"event": "presence_updated", "data": {"user_id": "bot_user", "status": "typing"}},
        {"event": "chat_read", "data": {"user_id": "u0"}},
        _message("u0", "bench:0:3:4"),
        "not an event",
    ]
    assert [m["content"] for m in sockets.human_messages(events)] == ["bench:0:3:4"]


def test_ws_resource() -> None:
    target = Target.parse("http://127.0.0.1:9/prefix")
    assert sockets.ws_resource(target, "c1") == "/prefix/ws/c1"
    assert sockets.ws_resource(target, "c1", "u 0") == "/prefix/ws/c1?user_id=u%200"


def test_split_deals_chats_and_rate() -> None:
    spec = FanoutSpec(
        urls=("http://127.0.0.1:9",), chat_ids=("a", "b", "c"), subscribers=2, rate=30.0,
        duration_s=1.0,
    )  # fmt: skip
    shares = workers.split(spec, 2)
    assert [s.chat_ids for s in shares] == [("a", "c"), ("b",)]
    assert [s.rate for s in shares] == [20.0, 10.0]
    assert [s.worker for s in shares] == [0, 1]
    assert len(workers.split(spec, 5)) == 3  # never a worker without chats
    with pytest.raises(ValueError, match="worker"):
        workers.split(spec, 0)


async def test_refused_socket_raises_plainly() -> None:
    """A failed connect surfaces as the plain error (not an ExceptionGroup) for the CLI."""
    import trio

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(trio.serve_tcp, trio.abc.AsyncResource.aclose, 0)
        port = listeners[0].socket.getsockname()[1]
        nursery.cancel_scope.cancel()
    target = Target.parse(f"http://127.0.0.1:{port}")
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            with pytest.raises(OSError, match="connect"):
                await sockets.connect(nursery, target, "c1")


def test_prefilter_keeps_every_frame_that_can_matter() -> None:
    keep: list[str | bytes] = [
        orjson.dumps(_message("u0", "bench:0:1:2")).decode(),
        orjson.dumps([_message("u0", "warmup:0:3")]),
        orjson.dumps([{"event": "ack", "data": {"ref": "1"}}]).decode(),
        orjson.dumps([{"event": "error", "data": {"ref": "1", "status": 422}}]).decode(),
    ]
    assert all(sockets.may_matter(frame) for frame in keep)
    bot = orjson.dumps(
        [{"event": "presence_updated", "data": {"user_id": "bot_user", "status": "typing"}},
         {"event": "chat_read", "data": {"user_id": "bot_user"}}]
    ).decode()  # fmt: skip
    assert not sockets.may_matter(bot)
    assert sockets.count_events(bot) == 2
    assert sockets.count_events(orjson.dumps(_message("bot_user", "hi"))) == 1
