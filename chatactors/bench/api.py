"""The few calls of the reference chat API that the workloads make."""

from __future__ import annotations

import orjson
import trio

from chatactors.bench.httpclient import HttpError, HttpPool

BOT_USER = "bot_user"
PARTICIPANTS = ("u0", "u1")
"""Every bench chat has these participants; `u0` posts, subscribers may act as `u{i}`."""


class SetupError(Exception):
    """The server refused a setup step (creating a chat, prefilling history)."""


def messages_path(chat_id: str) -> str:
    return f"/chats/{chat_id}/messages"


def message_body(content: str, user_id: str = "u0") -> bytes:
    return orjson.dumps({"user_id": user_id, "type": "text", "content": content})


async def create_chat(pool: HttpPool, participants: tuple[str, ...] = PARTICIPANTS) -> str:
    """Create one chat; returns its id.

    Raises:
        SetupError: the server refused or the connection failed.
    """
    try:
        response = await pool.post_json("/chats", {"participants": list(participants)})
    except HttpError as exc:
        raise SetupError(f"POST /chats failed: {exc}") from exc
    if not response.ok:
        raise SetupError(f"POST /chats answered {response.status}: {response.body[:200]!r}")
    chat_id = response.json().get("chat_id")
    if not isinstance(chat_id, str):
        raise SetupError(f"POST /chats answered no chat_id: {response.body[:200]!r}")
    return chat_id


async def create_chats(
    pool: HttpPool,
    count: int,
    concurrency: int,
    participants: tuple[str, ...] = PARTICIPANTS,
    on_created: trio.MemorySendChannel[int] | None = None,
) -> list[str]:
    """Create `count` chats with `concurrency` requests in flight; ids in creation order."""
    ids: list[str | None] = [None] * count
    next_index = 0

    async def creator() -> None:
        nonlocal next_index
        while next_index < count:
            index = next_index
            next_index += 1
            ids[index] = await create_chat(pool, participants)
            if on_created is not None:
                on_created.send_nowait(1)

    async with trio.open_nursery() as nursery:
        for _ in range(min(concurrency, count)):
            nursery.start_soon(creator)
    return [chat_id for chat_id in ids if chat_id is not None]


async def post_message(pool: HttpPool, chat_id: str, content: str) -> None:
    """Post one text message as `u0`.

    Raises:
        SetupError: the server refused or the connection failed.
    """
    try:
        response = await pool.request("POST", messages_path(chat_id), message_body(content))
    except HttpError as exc:
        raise SetupError(f"POST {messages_path(chat_id)} failed: {exc}") from exc
    if not response.ok:
        raise SetupError(f"POST {messages_path(chat_id)} answered {response.status}")
