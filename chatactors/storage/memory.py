"""An in-memory ChatStore: for tests and for ``--store memory``. Nothing survives a restart."""

from __future__ import annotations

from datetime import datetime

import attrs
import trio

from chatactors.domain.events import LogEvent
from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import Chat, ChatSummary, Message, ReadMark
from chatactors.domain.search_text import Token, tokenize
from chatactors.storage.search import (
    SearchOrder,
    SearchPage,
    SearchRequest,
    fetch_count,
    is_searchable,
    page_of,
    ranked,
    relevance_candidates,
)
from chatactors.storage.store import (
    ChatUpdate,
    LoadedChat,
    LogPage,
    MessageChange,
    MessagePage,
    StaleOwner,
    merge_log,
    select_page,
)


@attrs.define(eq=False)
class _StoredChat:
    chat: Chat
    #: In their current state; ``messages[seq - 1]`` is message ``seq``.
    messages: list[Message] = attrs.field(factory=list)
    #: The log's changes: (pos, seq, kind).
    changes: list[tuple[int, int, str]] = attrs.field(factory=list)
    last_pos: int = 0
    read_marks: dict[UserId, ReadMark] = attrs.field(factory=dict)
    last_seen: dict[UserId, datetime] = attrs.field(factory=dict)
    owner_token: int = 0


@attrs.define(eq=False)
class MemoryStore:
    """Keeps everything in dicts. Each method checkpoints, like a real store would."""

    _chats: dict[ChatId, _StoredChat] = attrs.field(factory=dict)
    #: The store order of every message (chat, seq): newest first in search is highest first.
    _order: dict[tuple[ChatId, int], int] = attrs.field(factory=dict)

    async def create_chat(self, chat: Chat) -> None:
        await trio.lowlevel.checkpoint()
        self._chats[chat.id] = _StoredChat(chat)

    async def load_chat(
        self, chat_id: ChatId, *, window: int, idempotency_window: int
    ) -> LoadedChat | None:
        await trio.lowlevel.checkpoint()
        stored = self._chats.get(chat_id)
        if stored is None:
            return None
        stored.owner_token += 1
        messages = stored.messages
        return LoadedChat(
            chat=stored.chat,
            recent=tuple(messages[-window:]) if window else (),
            last_seq=messages[-1].seq if messages else 0,
            read_marks=dict(stored.read_marks),
            last_seen=dict(stored.last_seen),
            client_ids={
                (m.user_id, m.client_message_id): m
                # messages[-0:] would be every message: a zero window keeps none.
                for m in (messages[-idempotency_window:] if idempotency_window else ())
                if m.client_message_id is not None
            },
            owner_token=stored.owner_token,
            last_pos=stored.last_pos,
        )

    def _owned(self, chat_id: ChatId, owner: int) -> _StoredChat:
        stored = self._chats[chat_id]
        if owner < stored.owner_token:
            raise StaleOwner(chat_id, owner)
        return stored

    async def append_message(self, message: Message, *, owner: int) -> None:
        await trio.lowlevel.checkpoint()
        stored = self._owned(message.chat_id, owner)
        stored.messages.append(message)
        stored.last_pos = message.pos
        self._order[(message.chat_id, message.seq)] = len(self._order) + 1

    async def change_message(self, change: MessageChange, *, owner: int) -> None:
        await trio.lowlevel.checkpoint()
        message = change.message
        stored = self._owned(message.chat_id, owner)
        stored.messages[message.seq - 1] = message
        stored.changes.append((change.pos, message.seq, change.change.value))
        stored.last_pos = change.pos

    async def update_chat(self, update: ChatUpdate, *, owner: int) -> None:
        await trio.lowlevel.checkpoint()
        message = update.message
        stored = self._owned(message.chat_id, owner)
        stored.chat = update.chat
        stored.messages.append(message)
        self._order[(message.chat_id, message.seq)] = len(self._order) + 1
        stored.last_pos = message.pos
        for mark in update.read_marks:
            stored.read_marks[mark.user_id] = mark

    async def find_message(self, chat_id: ChatId, message_id: MessageId) -> Message | None:
        await trio.lowlevel.checkpoint()
        stored = self._chats.get(chat_id)
        messages = stored.messages if stored else []
        return next((m for m in messages if m.id == message_id), None)

    async def read_log(self, chat_id: ChatId, page: LogPage) -> list[LogEvent]:
        await trio.lowlevel.checkpoint()
        stored = self._chats.get(chat_id)
        if stored is None:
            return []
        after = page.after_pos
        messages = [m for m in stored.messages if m.pos > after][: page.limit]
        changes = [c for c in stored.changes if c[0] > after][: page.limit]
        states = {seq: stored.messages[seq - 1] for _, seq, _ in changes}
        return merge_log(messages, changes, states, page)

    async def set_read_mark(self, chat_id: ChatId, mark: ReadMark, *, owner: int) -> None:
        await trio.lowlevel.checkpoint()
        self._owned(chat_id, owner).read_marks[mark.user_id] = mark

    async def set_last_seen(
        self, chat_id: ChatId, user_id: UserId, moment: datetime, *, owner: int
    ) -> None:
        await trio.lowlevel.checkpoint()
        self._owned(chat_id, owner).last_seen[user_id] = moment

    async def read_messages(self, chat_id: ChatId, page: MessagePage) -> list[Message]:
        await trio.lowlevel.checkpoint()
        stored = self._chats.get(chat_id)
        return select_page(stored.messages, page) if stored else []

    async def list_chats(self, *, limit: int) -> list[Chat]:
        await trio.lowlevel.checkpoint()
        return [stored.chat for stored in list(self._chats.values())[:limit]]

    async def list_user_chats(self, user_id: UserId, *, limit: int) -> list[ChatSummary]:
        await trio.lowlevel.checkpoint()
        summaries = []
        # Newest first, as SQLite orders ties: the reverse of creation order, then a stable sort.
        for stored in reversed(self._chats.values()):
            if user_id not in stored.chat.participants:
                continue
            mark = stored.read_marks.get(user_id)
            read_seq = mark.seq if mark else 0
            last = stored.messages[-1] if stored.messages else None
            unread = [m for m in stored.messages[read_seq:] if m.user_id != user_id]
            summaries.append(
                ChatSummary(
                    chat=stored.chat,
                    last_message=last,
                    unread_count=len(unread),
                    last_activity=last.timestamp if last else stored.chat.created_at,
                    unread_mentions=sum(1 for m in unread if user_id in m.mentions),
                )
            )
        summaries.sort(key=lambda s: s.last_activity, reverse=True)
        return summaries[:limit]

    async def search(self, request: SearchRequest) -> SearchPage:
        """By a scan of the user's chats, tokenizing each message as the other engines index it."""
        await trio.lowlevel.checkpoint()
        candidates: list[tuple[int, Message, list[Token]]] = []
        for chat_id, stored in self._chats.items():
            if request.user_id not in stored.chat.participants or request.chat_id not in (
                None,
                chat_id,
            ):
                continue
            for message in stored.messages:
                if not is_searchable(message) or request.author not in (None, message.user_id):
                    continue
                if request.type not in (None, message.type):
                    continue
                key = self._order[(chat_id, message.seq)]
                candidates.append((key, message, tokenize(message.content)))
        query = request.query
        found = [(key, m, tokens) for key, m, tokens in candidates if query.matches(tokens)]
        found.sort(key=lambda hit: hit[0], reverse=True)
        count = fetch_count(request)
        if request.order is SearchOrder.NEWEST:
            after = request.after
            chosen = [(key, m) for key, m, _ in found if after is None or key < after]
            return page_of(chosen[:count], request)
        # As the SQLite index counts them: the messages with words, and each term's share.
        indexed = [tokens for _, _, tokens in candidates if tokens]
        window = found[: relevance_candidates()]
        order = ranked(
            query,
            [(key, [token.text for token in tokens]) for key, _, tokens in window],
            documents=len(indexed),
            document_frequencies=[
                sum(1 for tokens in indexed if term.occurrences(tokens)) for term in query.terms
            ],
        )
        messages = {key: message for key, message, _ in window}
        offset = request.after or 0
        return page_of([(key, messages[key]) for key in order[offset : offset + count]], request)

    async def check_ready(self) -> None:
        await trio.lowlevel.checkpoint()
