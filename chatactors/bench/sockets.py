"""WebSocket subscribers: connect many sockets, decode frames into bench deliveries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import orjson
import trio
import trio_websocket
from wsproto.utilities import LocalProtocolError

from chatactors.bench.api import BOT_USER
from chatactors.bench.httpclient import Target

SUBPROTOCOL = "chatactors.v1"
CONNECT_TIMEOUT_S = 30.0


def ws_resource(target: Target, chat_id: str, user_id: str | None = None) -> str:
    resource = f"{target.prefix}/ws/{chat_id}"
    if user_id is not None:
        resource += f"?user_id={quote(user_id)}"
    return resource


async def _host(
    target: Target,
    resource: str,
    subprotocol: bool,
    *,
    task_status: trio.TaskStatus[trio_websocket.WebSocketConnection],
) -> None:
    # trio-websocket's reader task may fail while we close: a server ping that arrives in
    # LOCAL_CLOSING makes it answer a pong that wsproto refuses (LocalProtocolError). That
    # only ends this one socket, so it is contained here instead of failing the whole run.
    failure: Exception | None = None
    try:
        async with trio.open_nursery() as nursery:
            try:
                with trio.fail_after(CONNECT_TIMEOUT_S):
                    ws = await trio_websocket.connect_websocket(
                        nursery,
                        target.host,
                        target.port,
                        resource,
                        use_ssl=False,
                        subprotocols=[SUBPROTOCOL] if subprotocol else None,
                        max_message_size=16 * 2**20,
                    )
            except (trio_websocket.HandshakeError, OSError, trio.TooSlowError) as exc:
                failure = exc  # raised below, outside the nursery, so not as a group
            else:
                task_status.started(ws)
    except* LocalProtocolError:
        pass
    if failure is not None:
        raise failure


async def connect(
    nursery: trio.Nursery,
    target: Target,
    chat_id: str,
    *,
    user_id: str | None = None,
    subprotocol: bool = False,
) -> trio_websocket.WebSocketConnection:
    """Open one socket to `/ws/{chat_id}`, its reader living in `nursery`.

    Raises:
        trio_websocket.HandshakeError: the server refused the socket.
        trio.TooSlowError: no handshake within CONNECT_TIMEOUT_S.
        OSError: the TCP connection failed.
    """
    ws: trio_websocket.WebSocketConnection = await nursery.start(
        _host, target, ws_resource(target, chat_id, user_id), subprotocol
    )
    return ws


async def connect_user(
    nursery: trio.Nursery, target: Target, user_id: str
) -> trio_websocket.WebSocketConnection:
    """Open one user socket (``/ws?user_id=``, chatactors.v1); raises as :func:`connect`."""
    resource = f"{target.prefix}/ws?user_id={quote(user_id)}"
    ws: trio_websocket.WebSocketConnection = await nursery.start(_host, target, resource, True)
    return ws


def decode_frame(frame: str | bytes, subprotocol: bool) -> list[Any]:
    """The events of one frame: a JSON array under `chatactors.v1`, else one JSON object."""
    value = orjson.loads(frame)
    if subprotocol:
        if not isinstance(value, list):
            raise ValueError(f"expected an array frame under {SUBPROTOCOL}")
        return value
    return [value]


_MARKERS = ("bench:", "warmup:", '"ack"', '"error"')


def may_matter(frame: str | bytes) -> bool:
    """False only for frames that cannot hold a bench message, warm-up, ack or error.

    A cheap substring test that lets the receiver skip parsing the bot's frames: when the
    generator shares a core with nothing but thousands of sockets, JSON parsing is its cost.
    """
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
    return any(marker in text for marker in _MARKERS)


def count_events(frame: str | bytes) -> int:
    """How many events a frame holds, without parsing it (one per `"event"` key)."""
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
    return max(1, text.count('"event"'))


def human_messages(events: list[Any]) -> Iterator[dict[str, Any]]:
    """The `message_received` payloads of events, without the bot's messages."""
    for event in events:
        if not isinstance(event, dict) or event.get("event") != "message_received":
            continue
        data = event.get("data")
        if isinstance(data, dict) and data.get("user_id") != BOT_USER:
            yield data
