"""Malformed and hostile input: every one is a 4xx ``{"detail": ...}``, and nothing is stored.

Each case was seen answering 500 (or storing U+FFFD, or crashing the chat actor) in probing
(issue 12, items 2 and 4).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from quart.typing import TestClientProtocol as Client

from chatactors.domain.errors import InvalidInput
from chatactors.web.request import decode_query, query_args
from chatactors.web.wire import MessagesQuery

ChatFactory = Callable[..., Awaitable[str]]

#: Every route that reads a JSON body, with a body it would accept.
JSON_ROUTES = (
    ("/chats", b'{"participants": ["alice", "bob"]}'),
    ("/chats/{chat}/messages", b'{"user_id": "alice", "type": "text", "content": "hi"}'),
    ("/chats/{chat}/presence", b'{"user_id": "alice", "status": "online"}'),
    ("/chats/{chat}/read", b'{"user_id": "alice"}'),
)


async def _stored(client: Client, chat: str) -> list[str]:
    response = await client.get(f"/chats/{chat}/messages")
    return [m["content"] for m in await response.get_json()]


@pytest.mark.parametrize(("path", "valid"), JSON_ROUTES)
async def test_the_valid_body_is_accepted(
    client: Client, chat_id_for: ChatFactory, path: str, valid: bytes
) -> None:
    """The control for the cases below: the same route, the same chat, a good body."""
    response = await client.post(path.format(chat=await chat_id_for()), data=valid)
    assert response.status_code == 200


@pytest.mark.parametrize("path", [path for path, _ in JSON_ROUTES])
@pytest.mark.parametrize(
    "body",
    [
        b"[" * 1000,
        b'{"participants": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        b'{"extra": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
        b'{"user_id": "alice", "extra": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}",
    ],
    ids=["nested-arrays", "nested-in-a-field", "nested-in-an-unknown-key", "nested-objects"],
)
async def test_deeply_nested_bodies_are_422(
    client: Client, chat_id_for: ChatFactory, path: str, body: bytes
) -> None:
    chat = await chat_id_for()
    response = await client.post(path.format(chat=chat), data=body)
    assert response.status_code == 422
    assert (await response.get_json())["detail"]
    assert await _stored(client, chat) == []


#: Each string a client sends over HTTP, with ``%s`` where the bad text goes.
TEXT_FIELDS = (
    ("/chats", b'{"participants": ["alice", "%s"]}'),
    ("/chats/{chat}/messages", b'{"user_id": "%s", "type": "text", "content": "hi"}'),
    ("/chats/{chat}/messages", b'{"user_id": "alice", "type": "text", "content": "hi %s"}'),
    ("/chats/{chat}/messages",
     b'{"user_id": "alice", "type": "text", "content": "hi", "client_message_id": "%s"}'),
    ("/chats/{chat}/presence", b'{"user_id": "%s", "status": "online"}'),
    ("/chats/{chat}/read", b'{"user_id": "%s"}'),
)  # fmt: skip


@pytest.mark.parametrize(("path", "template"), TEXT_FIELDS)
@pytest.mark.parametrize(
    "text",
    [b"\xff", b"caf\xc3", b"\xed\xa0\x80", b"\\ud800", b"a\\udfffb", b"\\ud83d x"],
    ids=["byte-ff", "truncated", "encoded-surrogate", "lone-high", "lone-low", "unpaired-high"],
)
async def test_text_that_is_not_unicode_is_422(
    client: Client, chat_id_for: ChatFactory, path: str, template: bytes, text: bytes
) -> None:
    chat = await chat_id_for("alice", "bob ☕")
    response = await client.post(path.format(chat=chat), data=template % text)
    assert response.status_code == 422
    assert "valid" in (await response.get_json())["detail"]
    assert await _stored(client, chat) == []
    # The control: the same field with good text is accepted.
    good = await client.post(path.format(chat=chat), data=template % "bob ☕".encode())
    assert good.status_code == 200


async def test_a_lone_surrogate_is_named_in_the_detail(
    client: Client, chat_id_for: ChatFactory
) -> None:
    chat = await chat_id_for()
    body = b'{"user_id": "alice", "type": "text", "content": "\\ud800"}'
    response = await client.post(f"/chats/{chat}/messages", data=body)
    assert response.status_code == 422
    assert "surrogate" in (await response.get_json())["detail"]


async def test_a_query_string_that_is_not_utf8_is_422(
    client: Client, chat_id_for: ChatFactory
) -> None:
    chat = await chat_id_for()
    targets = ("/chats?user_id=%ED%A0%80", "/chats?user_id=%FF", f"/chats/{chat}/messages?x=%C3")
    for target in targets:
        response = await client.get(target)
        assert response.status_code == 422, target
        assert "UTF-8" in (await response.get_json())["detail"]


async def test_a_very_long_static_file_name_is_404(client: Client) -> None:
    response = await client.get("/static/" + "a" * 5000)
    assert response.status_code == 404
    assert (await response.get_json())["detail"]


def test_query_args_read_repeated_keys_as_lists_and_refuse_bad_utf8() -> None:
    assert query_args(b"a=1&b=%F0%9F%98%80&a=2&c[]=x") == {"a": ["1", "2"], "b": "😀", "c": ["x"]}
    assert decode_query(b"limit=5&extra=1", MessagesQuery) == MessagesQuery(limit=5)
    with pytest.raises(InvalidInput, match="UTF-8"):
        query_args(b"user_id=%ED%B0%80")
    with pytest.raises(InvalidInput, match="Invalid request"):
        decode_query(b"limit=x", MessagesQuery)
