"""Fencing, on every engine: a write whose owner token is older than the chat's is refused.

Policy: as ``test_store.py`` (public ``ChatStore`` methods only, the real clock, bounded). Each
load claims the chat with a new token; the previous loader's writes must then fail with
``StaleOwner`` and change nothing, while the new owner writes as usual.
"""

from __future__ import annotations

import pytest
import trio

from chatactors.domain.errors import StoreUnavailable
from chatactors.domain.ids import UserId
from chatactors.domain.models import Chat, MessageType, ReadMark
from chatactors.storage.store import ChatStore, LoadedChat, MessagePage, StaleOwner
from tests.conftest import make_settings, running_registry

from .factories import at, make_chat, make_message

TIMEOUT_S = 10
ALICE, BOB = UserId("alice"), UserId("bob")


async def _load(store: ChatStore, chat: Chat) -> LoadedChat:
    loaded = await store.load_chat(chat.id, window=100, idempotency_window=100)
    assert loaded is not None
    return loaded


async def test_each_load_claims_a_newer_token(store: ChatStore) -> None:
    chat = make_chat("c1", "alice", "bob")
    with trio.fail_after(TIMEOUT_S):
        await store.create_chat(chat)
        tokens = [(await _load(store, chat)).owner_token for _ in range(3)]
    assert tokens[0] > 0
    assert tokens == sorted(set(tokens))


async def test_stale_owner_writes_are_refused_and_change_nothing(store: ChatStore) -> None:
    chat = make_chat("c1", "alice", "bob")
    first = make_message(chat, 1, "alice")
    with trio.fail_after(TIMEOUT_S):
        await store.create_chat(chat)
        old = (await _load(store, chat)).owner_token
        await store.append_message(first, owner=old)
        await store.set_read_mark(chat.id, ReadMark(BOB, first.id, 1), owner=old)
        await store.set_last_seen(chat.id, ALICE, at(50), owner=old)
        new = (await _load(store, chat)).owner_token
        before = await _load(store, chat)

        with pytest.raises(StaleOwner) as refused:
            await store.append_message(make_message(chat, 2, "alice"), owner=old)
        with pytest.raises(StaleOwner):
            await store.set_read_mark(chat.id, ReadMark(ALICE, first.id, 1), owner=old)
        with pytest.raises(StaleOwner):
            await store.set_last_seen(chat.id, ALICE, at(99), owner=old)

        after = await _load(store, chat)
        messages = await store.read_messages(chat.id, MessagePage(limit=10))
    assert refused.value.token == old
    assert isinstance(refused.value, StoreUnavailable)  # a 503 for whoever asked
    assert messages == [first]
    assert (after.last_seq, after.recent, after.read_marks, after.last_seen) == (
        before.last_seq, before.recent, before.read_marks, before.last_seen,
    )  # fmt: skip
    assert new > old


async def test_the_newest_owner_still_writes(store: ChatStore) -> None:
    chat = make_chat("c1", "alice", "bob")
    with trio.fail_after(TIMEOUT_S):
        await store.create_chat(chat)
        await _load(store, chat)
        owner = (await _load(store, chat)).owner_token
        message = make_message(chat, 1, "bob")
        await store.append_message(message, owner=owner)
        await store.set_read_mark(chat.id, ReadMark(ALICE, message.id, 1), owner=owner)
        loaded = await store.load_chat(chat.id, window=10, idempotency_window=10)
    assert loaded is not None
    assert loaded.recent == (message,)
    assert loaded.read_marks == {ALICE: ReadMark(ALICE, message.id, 1)}


async def test_a_stale_write_fails_alone_among_concurrent_writes(store: ChatStore) -> None:
    """Batched with other chats' writes (group commit), only the stale one is refused."""
    stale_chat = make_chat("stale", "alice", "bob")
    others = [make_chat(f"c{i}", "alice", "bob") for i in range(5)]
    results: dict[str, BaseException | None] = {}

    async def append(chat: Chat, owner: int) -> None:
        try:
            await store.append_message(make_message(chat, 1, "alice"), owner=owner)
        except StaleOwner as error:
            results[chat.id] = error
        else:
            results[chat.id] = None

    with trio.fail_after(TIMEOUT_S):
        tokens = {}
        for chat in (stale_chat, *others):
            await store.create_chat(chat)
            tokens[chat.id] = (await _load(store, chat)).owner_token
        await _load(store, stale_chat)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(append, stale_chat, tokens[stale_chat.id])
            for chat in others:
                nursery.start_soon(append, chat, tokens[chat.id])
        pages = {c.id: await store.read_messages(c.id, MessagePage(limit=5)) for c in others}
        stale_page = await store.read_messages(stale_chat.id, MessagePage(limit=5))
    assert isinstance(results.pop(stale_chat.id), StaleOwner)
    assert results == {chat.id: None for chat in others}
    assert [len(page) for page in pages.values()] == [1] * len(others)
    assert stale_page == []


async def test_an_actor_whose_chat_was_taken_over_can_no_longer_write(store: ChatStore) -> None:
    """Two registries over one store, as two nodes would be: the chat's newer actor writes, and
    the older one's post fails (503 for its client) and leaves no trace."""
    settings = make_settings(store="memory")
    with trio.fail_after(TIMEOUT_S):
        async with (
            running_registry(settings, store) as first,
            running_registry(settings, store) as second,
        ):
            chat = await first.create_chat(["alice", "bob"])
            old_handle, new_handle = first.chat(chat.id), second.chat(chat.id)
            before = await old_handle.post(ALICE, MessageType.TEXT, "from the first owner")
            # The second registry's actor activates and claims the chat.
            taken_over = await new_handle.post(BOB, MessageType.TEXT, "from the new owner")
            with pytest.raises(StaleOwner):
                await old_handle.post(ALICE, MessageType.TEXT, "too late")
            stored = await store.read_messages(chat.id, MessagePage(limit=10))
    assert stored == [before, taken_over]
    assert taken_over.seq == 2
