"""A plain in-memory FastAPI implementation of the reference chat API, as a peer to benchmark.

Not part of the chatactors package and never installed by it: run it from its own venv,
    python -m venv /work/peer-venv && /work/peer-venv/bin/pip install fastapi 'uvicorn[standard]'
    cd benchmarks/peer && PEER_BOT_DELAY_MIN_S=2 PEER_BOT_DELAY_MAX_S=4 \
        /work/peer-venv/bin/uvicorn app:app --host 127.0.0.1 --port 8001 --log-level warning

It follows the reference (one process, dicts in memory, a bot sequence per message) with two
additions so the bench compares like with like: `?limit=N` on GET messages (the newest N), and a
fan-out that sends to all sockets concurrently instead of awaiting each in turn. With
PEER_SEQUENTIAL_FANOUT=1 it fans out as the reference does (each socket in turn, awaited):
"the reference" in the benchmarks (its own source is not available here).
"""

from __future__ import annotations

import asyncio
import datetime
import os
import random
import uuid
from typing import Literal

from fastapi import FastAPI, HTTPException, WebSocket, WebSocketDisconnect
from pydantic import BaseModel

BOT = "bot_user"
DELAY_MIN = float(os.environ.get("PEER_BOT_DELAY_MIN_S", "2"))
DELAY_MAX = float(os.environ.get("PEER_BOT_DELAY_MAX_S", "4"))
#: PEER_SEQUENTIAL_FANOUT=1: send to each socket in turn, awaiting each, as the reference server
#: itself does (REFERENCE.md); the default sends to all at once.
SEQUENTIAL_FANOUT = os.environ.get("PEER_SEQUENTIAL_FANOUT") == "1"
REPLIES = ["Hello!", "Interesting.", "Tell me more.", "Sure.", "Ha!"]

app = FastAPI()
chats: dict[str, dict[str, object]] = {}
messages: dict[str, list[dict[str, str]]] = {}
sockets: dict[str, set[WebSocket]] = {}
presence: dict[str, dict[str, dict[str, str]]] = {}
reads: dict[str, dict[str, str | None]] = {}
background: set[asyncio.Task[None]] = set()


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


class NewChat(BaseModel):
    participants: list[str]


class NewMessage(BaseModel):
    user_id: str
    type: Literal["text", "image", "audio"]
    content: str


class Presence(BaseModel):
    user_id: str
    status: Literal["online", "offline", "typing"]


class Read(BaseModel):
    user_id: str


def chat_or_404(chat_id: str) -> dict[str, object]:
    chat = chats.get(chat_id)
    if chat is None:
        raise HTTPException(404, "Chat not found")
    return chat


async def _send_each_in_turn(
    targets: list[WebSocket], frame: dict[str, object]
) -> list[BaseException | None]:
    results: list[BaseException | None] = []
    for ws in targets:
        try:
            await ws.send_json(frame)
            results.append(None)
        except Exception as error:
            results.append(error)
    return results


async def broadcast(chat_id: str, event: str, data: dict[str, object]) -> None:
    frame = {"event": event, "data": data}
    targets = list(sockets.get(chat_id, ()))
    if SEQUENTIAL_FANOUT:
        results = await _send_each_in_turn(targets, frame)
    else:
        results = await asyncio.gather(
            *(ws.send_json(frame) for ws in targets), return_exceptions=True
        )
    for ws, result in zip(targets, results, strict=True):
        if isinstance(result, Exception):
            sockets[chat_id].discard(ws)


def add_message(chat_id: str, user_id: str, kind: str, content: str) -> dict[str, str]:
    message = {
        "id": str(uuid.uuid4()),
        "user_id": user_id,
        "type": kind,
        "content": content,
        "timestamp": now(),
    }
    messages[chat_id].append(message)
    return message


async def set_presence(chat_id: str, user_id: str, status: str) -> None:
    entry = presence[chat_id][user_id]
    entry["status"] = status
    if status == "offline":
        entry["last_seen"] = now()
    await broadcast(chat_id, "presence_updated", {"user_id": user_id, **entry})


async def bot_sequence(chat_id: str) -> None:
    async def pause() -> None:
        await asyncio.sleep(random.uniform(DELAY_MIN, DELAY_MAX))

    await pause()
    await set_presence(chat_id, BOT, "online")
    await pause()
    last = messages[chat_id][-1]["id"] if messages[chat_id] else None
    reads[chat_id][BOT] = last
    await broadcast(
        chat_id, "chat_read", {"chat_id": chat_id, "user_id": BOT, "last_read_message_id": last}
    )
    await pause()
    await set_presence(chat_id, BOT, "typing")
    for _ in range(random.randint(1, 3)):
        await pause()
        message = add_message(chat_id, BOT, "text", random.choice(REPLIES))
        await broadcast(chat_id, "message_received", message)
    await set_presence(chat_id, BOT, "offline")


@app.post("/chats")
async def create_chat(body: NewChat) -> dict[str, object]:
    chat_id = str(uuid.uuid4())
    people = list(dict.fromkeys([*body.participants, BOT]))
    chats[chat_id] = {"chat_id": chat_id, "participants": people}
    messages[chat_id] = []
    sockets[chat_id] = set()
    created = now()
    presence[chat_id] = {p: {"status": "offline", "last_seen": created} for p in people}
    reads[chat_id] = dict.fromkeys(people)
    return {"chat_id": chat_id, "participants": body.participants}


@app.get("/chats")
async def list_chats() -> list[dict[str, object]]:
    return list(chats.values())


@app.get("/chats/{chat_id}/messages")
async def get_messages(chat_id: str, limit: int | None = None) -> list[dict[str, str]]:
    chat_or_404(chat_id)
    history = messages[chat_id]
    return history[-limit:] if limit else history


@app.post("/chats/{chat_id}/messages")
async def send_message(chat_id: str, body: NewMessage) -> dict[str, object]:
    chat = chat_or_404(chat_id)
    if body.user_id not in chat["participants"]:  # type: ignore[operator]
        raise HTTPException(403, "User not in chat")
    message = add_message(chat_id, body.user_id, body.type, body.content)
    await broadcast(chat_id, "message_received", message)
    if body.user_id != BOT:
        task = asyncio.create_task(bot_sequence(chat_id))
        background.add(task)
        task.add_done_callback(background.discard)
    return {"status": "message_sent", "message": message}


@app.post("/chats/{chat_id}/presence")
async def post_presence(chat_id: str, body: Presence) -> dict[str, str]:
    chat_or_404(chat_id)
    await set_presence(chat_id, body.user_id, body.status)
    return {"chat_id": chat_id, "user_id": body.user_id, "status": body.status}


@app.get("/chats/{chat_id}/presence")
async def get_presence(chat_id: str) -> list[dict[str, str]]:
    chat_or_404(chat_id)
    return [{"user_id": u, **entry} for u, entry in presence[chat_id].items()]


@app.post("/chats/{chat_id}/read")
async def post_read(chat_id: str, body: Read) -> dict[str, object]:
    chat_or_404(chat_id)
    last = messages[chat_id][-1]["id"] if messages[chat_id] else None
    reads[chat_id][body.user_id] = last
    data = {"chat_id": chat_id, "user_id": body.user_id, "last_read_message_id": last}
    await broadcast(chat_id, "chat_read", data)
    return data


@app.get("/chats/{chat_id}/read")
async def get_read(chat_id: str) -> dict[str, object]:
    chat_or_404(chat_id)
    return {"chat_id": chat_id, "read_receipts": reads[chat_id]}


@app.websocket("/ws/{chat_id}")
async def chat_socket(ws: WebSocket, chat_id: str) -> None:
    await ws.accept()
    subscribers = sockets.setdefault(chat_id, set())
    subscribers.add(ws)
    try:
        while True:
            await ws.receive_text()
    except WebSocketDisconnect:
        subscribers.discard(ws)
