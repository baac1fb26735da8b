"""ChatHandle: how routes, sockets and the bot talk to a chat, with typed async methods.

It reaches the chat through a :class:`~chatactors.actors.mailbox.Mailbox` (the registry in this
process), so the actor behind it may live anywhere.

Callers never see the inbox; only the ``queue_*`` methods (for pipelining) hand out the Reply
to wait on. Each method follows the same cancellation rule: if the caller is cancelled while
waiting for the answer, the command is withdrawn; one the actor had not begun never runs, one it
had begun may still take effect.
"""

from __future__ import annotations

from typing import TypeVar

import attrs

from chatactors.actors.commands import (
    AddParticipants,
    ChatChanged,
    ChatInfo,
    Command,
    DeleteMessage,
    EditMessage,
    GetChat,
    GetLog,
    GetMessages,
    GetPresence,
    GetReadMarks,
    MarkRead,
    PostMessage,
    React,
    RemoveParticipant,
    SetPresence,
    SetTitle,
    Subscribe,
    Unsubscribe,
)
from chatactors.actors.mailbox import Mailbox
from chatactors.actors.reply import Reply
from chatactors.actors.subscription import SharedOutbox, Subscription
from chatactors.domain.events import LogEvent
from chatactors.domain.ids import ChatId, MessageId, UserId
from chatactors.domain.models import Message, MessageType, Presence, PresenceStatus, ReadMark
from chatactors.storage.store import MessagePage

R = TypeVar("R")


@attrs.frozen
class ChatHandle:
    """Cheap to make (``registry.chat(chat_id)``); the chat's actor is activated on first use.

    Every method raises ``ChatNotFound`` for an unknown chat, ``Overloaded`` if the chat's inbox
    stays full, ``ChatUnavailable`` if its actor crashed or the server is stopping, and the
    command's own ``ChatError`` (``NotAParticipant``, ``InvalidInput``) otherwise.
    """

    chat_id: ChatId
    _mailbox: Mailbox

    async def _call(self, command: Command[R]) -> R:
        reply = await self._mailbox.submit(self.chat_id, command)
        try:
            return await reply.wait()
        finally:
            if not reply.ready:
                reply.withdraw()  # cancelled: nobody waits for it any more

    async def queue_post(
        self,
        user_id: UserId,
        type: MessageType,
        content: str,
        client_message_id: str | None = None,
        reply_to: MessageId | None = None,
    ) -> Reply[Message]:
        """Like :meth:`post`, but returns once the command is queued; ``await reply.wait()``
        (and ``reply.withdraw()`` when giving up on it).

        Queued commands run in the order queued: a socket pipelines its commands this way.
        """
        return await self._mailbox.submit(
            self.chat_id, PostMessage(user_id, type, content, client_message_id, reply_to)
        )

    async def queue_edit(
        self, user_id: UserId, message_id: MessageId, content: str
    ) -> Reply[Message]:
        """Queue an edit (see :meth:`queue_post`); answers the message's new state."""
        return await self._mailbox.submit(self.chat_id, EditMessage(user_id, message_id, content))

    async def queue_delete(self, user_id: UserId, message_id: MessageId) -> Reply[Message]:
        return await self._mailbox.submit(self.chat_id, DeleteMessage(user_id, message_id))

    async def queue_react(
        self, user_id: UserId, message_id: MessageId, emoji: str, *, add: bool = True
    ) -> Reply[Message]:
        """Queue adding (or removing, ``add=False``) ``user_id``'s reaction ``emoji``."""
        return await self._mailbox.submit(self.chat_id, React(user_id, message_id, emoji, add=add))

    async def queue_set_title(self, user_id: UserId, title: str | None) -> Reply[ChatChanged]:
        """Queue naming the chat (None clears its title)."""
        return await self._mailbox.submit(self.chat_id, SetTitle(user_id, title))

    async def queue_add_participants(
        self, user_id: UserId, users: tuple[UserId, ...]
    ) -> Reply[ChatChanged]:
        return await self._mailbox.submit(self.chat_id, AddParticipants(user_id, users))

    async def queue_remove_participant(self, user_id: UserId, member: UserId) -> Reply[ChatChanged]:
        """Queue ``member``'s removal by ``user_id`` (the same user: leaving)."""
        return await self._mailbox.submit(self.chat_id, RemoveParticipant(user_id, member))

    async def set_title(self, user_id: UserId, title: str | None) -> ChatChanged:
        return await self._call(SetTitle(user_id, title))

    async def add_participants(self, user_id: UserId, users: tuple[UserId, ...]) -> ChatChanged:
        return await self._call(AddParticipants(user_id, users))

    async def remove_participant(self, user_id: UserId, member: UserId) -> ChatChanged:
        return await self._call(RemoveParticipant(user_id, member))

    async def queue_set_presence(self, user_id: UserId, status: PresenceStatus) -> Reply[Presence]:
        return await self._mailbox.submit(self.chat_id, SetPresence(user_id, status))

    async def queue_mark_read(self, user_id: UserId) -> Reply[ReadMark]:
        return await self._mailbox.submit(self.chat_id, MarkRead(user_id))

    async def info(self, viewer: UserId | None = None) -> ChatInfo:
        """``viewer``: when access control is on, who asks (``NotAParticipant`` if outside)."""
        return await self._call(GetChat(viewer))

    async def post(
        self,
        user_id: UserId,
        type: MessageType,
        content: str,
        client_message_id: str | None = None,
        reply_to: MessageId | None = None,
    ) -> Message:
        """Append a message (durably) and broadcast it; a repeated client_message_id is a no-op."""
        return await self._call(PostMessage(user_id, type, content, client_message_id, reply_to))

    async def edit(self, user_id: UserId, message_id: MessageId, content: str) -> Message:
        return await self._call(EditMessage(user_id, message_id, content))

    async def delete(self, user_id: UserId, message_id: MessageId) -> Message:
        return await self._call(DeleteMessage(user_id, message_id))

    async def react(
        self, user_id: UserId, message_id: MessageId, emoji: str, *, add: bool = True
    ) -> Message:
        return await self._call(React(user_id, message_id, emoji, add=add))

    async def log(
        self, after_pos: int, through_pos: int, limit: int, viewer: UserId | None = None
    ) -> list[LogEvent]:
        """The log entries after ``after_pos`` up to ``through_pos``, at most ``limit``."""
        return await self._call(GetLog(after_pos, through_pos, limit, viewer))

    async def set_presence(self, user_id: UserId, status: PresenceStatus) -> Presence:
        return await self._call(SetPresence(user_id, status))

    async def mark_read(self, user_id: UserId) -> ReadMark:
        return await self._call(MarkRead(user_id))

    async def messages(self, page: MessagePage, viewer: UserId | None = None) -> list[Message]:
        return await self._call(GetMessages(page, viewer))

    async def presence(self, viewer: UserId | None = None) -> list[Presence]:
        return await self._call(GetPresence(viewer))

    async def read_marks(self, viewer: UserId | None = None) -> list[ReadMark]:
        return await self._call(GetReadMarks(viewer))

    async def subscribe(
        self,
        user_id: UserId | None = None,
        after_seq: int | None = None,
        outbox: SharedOutbox | None = None,
        after_pos: int | None = None,
    ) -> Subscription:
        """Start receiving events; with ``user_id`` the user counts as online while subscribed.

        ``after_seq`` replays the messages after it first, ``after_pos`` the log entries
        (messages and changes) after it. With ``outbox`` the events go there, tagged with this
        chat (a user's socket). Always pair with :meth:`unsubscribe` (shielded), or presence
        stays online.
        """
        return await self._call(Subscribe(user_id, after_seq, outbox, after_pos=after_pos))

    async def unsubscribe(self, subscription: Subscription) -> None:
        await self._call(Unsubscribe(subscription.id))
