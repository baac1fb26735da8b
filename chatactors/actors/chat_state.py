"""ChatState: a chat's state and rules, without I/O (sans-IO).

``apply(command, now=..., clock=...)`` decides what a command does and changes nothing: it
returns an :class:`Outcome` (the answer or a ``ChatError``, the events to publish, the store
writes to make, the timers to set or clear). The actor awaits the writes and only then
:meth:`~ChatState.commit`\\ s the outcome, so a write that fails leaves the state as it was.
Time is passed in, never read: ``now`` (wall clock) stamps messages and last-seen times,
``clock`` (monotonic) runs the timers: typing that lapses, and the grace before a user whose
last socket closed goes offline (:meth:`~ChatState.expire` fires them). Its limits come in a
``ChatPolicy`` and new message ids from a source it is given, so it reads no configuration and
draws no random number.

Messages and the changes to them (edits, deletions, reactions) are entries of the chat's log
(actors/chat_log.py), each at the next position; so are changes to the chat itself (its title,
its members), each recorded by a system message. A member removed (or who left) loses the chat
with that entry: every check below asks the current members.

A command about a message older than the in-memory window answers ``FindMessage``: the actor
reads the message from the store and applies the command again with it (``found``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime
from typing import assert_never

import attrs

from chatactors.actors.chat_log import ChatLog
from chatactors.actors.chat_policy import ChatPolicy
from chatactors.actors.commands import (
    AddParticipants,
    AnyCommand,
    ChatChanged,
    ChatInfo,
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
from chatactors.actors.outcome import (
    AppendMessage,
    ChangeMessage,
    FindMessage,
    Found,
    GoingOffline,
    Outcome,
    ReadFromStore,
    ReadLogFromStore,
    SaveLastSeen,
    SaveReadMark,
    StoreWrite,
    SubscribePlan,
    UpdateChat,
)
from chatactors.actors.placement import Handover
from chatactors.domain.chat_changes import describe, retitled, with_members, without_member
from chatactors.domain.errors import (
    ChatError,
    InvalidInput,
    MessageDeleted,
    MessageNotFound,
    NotAParticipant,
    NotTheAuthor,
)
from chatactors.domain.events import (
    ChatEvent,
    ChatRead,
    ChatUpdated,
    LogEvent,
    MessageReceived,
    MessageUpdated,
    PresenceUpdated,
)
from chatactors.domain.ids import ChatId, MessageId, MessageIdSource, UserId
from chatactors.domain.mentions import find_mentions
from chatactors.domain.models import (
    ChangeKind,
    Chat,
    ChatChange,
    Message,
    MessageType,
    Presence,
    PresenceStatus,
    Reaction,
    ReadMark,
)
from chatactors.domain.rules import check_content, check_emoji
from chatactors.storage.store import ChatUpdate, LoadedChat, MessageChange, MessagePage

_NOTHING = Outcome()


class _NeedMessage(Exception):
    """The command needs a message memory does not hold (see ``FindMessage``)."""

    def __init__(self, message_id: MessageId) -> None:
        self.message_id = message_id


@attrs.define(eq=False)
class ChatState:
    """Build with :meth:`from_loaded`. Changed only by :meth:`commit`."""

    chat_id: ChatId
    loaded: LoadedChat
    policy: ChatPolicy
    #: Where the ids of new messages come from: the core makes none up itself.
    new_message_id: MessageIdSource
    #: The chat as it is now: its title and members change (``ChatUpdated``).
    chat: Chat
    participants: frozenset[UserId]
    log: ChatLog
    client_ids: OrderedDict[tuple[UserId, str], Message]
    presence: dict[UserId, Presence]
    read_marks: dict[UserId, ReadMark]
    #: When each typing user falls back to online, in monotonic time.
    typing_until: dict[UserId, float] = attrs.field(factory=dict)
    #: Users whose last socket closed and whose grace runs: online until then.
    going_offline: dict[UserId, GoingOffline] = attrs.field(factory=dict)
    #: Which user each counted subscriber is, for socket-driven presence.
    socket_users: dict[int, UserId] = attrs.field(factory=dict)
    last_subscriber_id: int = 0

    @classmethod
    def from_loaded(
        cls,
        loaded: LoadedChat,
        policy: ChatPolicy,
        handover: Handover | None = None,
        *,
        new_message_id: MessageIdSource,
        now: datetime | None = None,
        clock: float = 0.0,
    ) -> ChatState:
        """Everyone offline; with a ``handover`` (cluster mode), the users the previous
        activation had online stay so, each in a grace from ``clock`` (their last-seen ``now``
        if it runs out): their sockets elsewhere register again meanwhile, without a flicker."""
        chat = loaded.chat
        state = cls(
            chat_id=chat.id,
            loaded=loaded,
            policy=policy,
            new_message_id=new_message_id,
            chat=chat,
            participants=frozenset(chat.participants),
            log=ChatLog.from_loaded(loaded, policy.history_window),
            client_ids=OrderedDict(loaded.client_ids),
            presence={
                user: Presence(
                    user, PresenceStatus.OFFLINE, loaded.last_seen.get(user, chat.created_at)
                )
                for user in chat.participants
            },
            read_marks=dict(loaded.read_marks),
        )
        if handover is not None and now is not None:
            state._take_over(handover, now, clock)
        return state

    def _take_over(self, handover: Handover, now: datetime, clock: float) -> None:
        grace = GoingOffline(clock + max(self.policy.presence_grace_s, handover.catch_up_s), now)
        for user, status in handover.presence.items():
            if user not in self.participants or status is PresenceStatus.OFFLINE:
                continue
            self.presence[user] = attrs.evolve(self.presence[user], status=status)
            self.going_offline[user] = grace
            if status is PresenceStatus.TYPING:
                self.typing_until[user] = clock + self.policy.typing_timeout_s

    @property
    def last_seq(self) -> int:
        return self.log.last_seq

    @property
    def last_pos(self) -> int:
        return self.log.last_pos

    @property
    def messages(self) -> Iterable[Message]:
        """The in-memory window of the newest messages, oldest first."""
        return self.log.window

    # -- deciding -------------------------------------------------------------------------

    def apply(
        self, command: AnyCommand, *, now: datetime, clock: float, found: Found | None = None
    ) -> Outcome:
        """What ``command`` does at wall time ``now`` and monotonic time ``clock``.

        ``found``: the message the store holds for an earlier answer of ``FindMessage``.
        """
        try:
            return self._decide(command, now, clock, found)
        except ChatError as error:
            return Outcome(error=error)
        except _NeedMessage as need:
            return Outcome(FindMessage(need.message_id))

    def _decide(
        self, command: AnyCommand, now: datetime, clock: float, found: Found | None
    ) -> Outcome:
        match command:
            case PostMessage():
                return self._post(command, now, found)
            case SetTitle(user_id, title):
                return self._set_title(user_id, title, now)
            case AddParticipants(user_id, users):
                return self._add(user_id, users, now)
            case RemoveParticipant(user_id, member):
                return self._remove(user_id, member, now)
            case EditMessage():
                return self._edit(command, now, found)
            case DeleteMessage():
                return self._delete(command, found)
            case React():
                return self._react(command, found)
            case GetLog(after_pos, through_pos, limit, viewer):
                self._require_viewer(viewer)
                through_pos = min(through_pos, self.last_pos)
                if after_pos >= through_pos or limit <= 0:
                    return Outcome([])
                replay = self.log.replay(after_pos, through_pos, limit)
                return Outcome(replay if isinstance(replay, ReadLogFromStore) else list(replay))
            case SetPresence(user_id, status):
                self._require_participant(user_id)
                until = clock + self.policy.typing_timeout_s
                typing = ((user_id, until if status is PresenceStatus.TYPING else None),)
                # An explicit status wins over a grace that runs: it ends it (``offline`` at
                # once, as without a grace; ``online``/``typing`` hold as they always do).
                return attrs.evolve(
                    self._change_presence(user_id, status, now),
                    typing=typing,
                    offline=self._end_grace(user_id),
                )
            case MarkRead(user_id):
                return self._mark_read(user_id)
            case GetMessages(page, viewer):
                self._require_viewer(viewer)
                return Outcome(self.page(page))
            case GetPresence(viewer):
                self._require_viewer(viewer)
                return Outcome([self.presence[user] for user in self.chat.participants])
            case GetReadMarks(viewer):
                self._require_viewer(viewer)
                return Outcome([
                    self.read_marks.get(user, ReadMark(user, None, 0))
                    for user in self.chat.participants
                ])  # fmt: skip
            case GetChat(viewer):
                self._require_viewer(viewer)
                return Outcome(self._info())
            case Subscribe(user_id, after_seq):
                return self._subscribe(user_id, after_seq, command.after_pos, now)
            case Unsubscribe(subscription_id):
                return self._unsubscribe(subscription_id.number, now, clock)
            case _:
                assert_never(command)

    def expire(self, clock: float) -> Outcome:
        """The timers due by ``clock``: typing falls back to online, and a user whose grace ran
        out goes offline, last seen when their last socket closed (the actor writes it)."""
        typing = [user for user, until in self.typing_until.items() if until <= clock]
        offline = [user for user, grace in self.going_offline.items() if grace.until <= clock]
        return self._expire(typing, offline)

    def end_graces(self) -> Outcome:
        """Every grace that runs ends now, offline: the actor is stopping, and a user with no
        socket left is not handed over to the next activation (one process: a reloaded chat
        starts with everyone offline), but last-seen is kept, so it is written as if the grace
        had run out."""
        return self._expire([], list(self.going_offline))

    def next_deadline(self) -> float | None:
        """The monotonic time of the next timer (typing or grace), if any runs."""
        deadlines = [*self.typing_until.values(), *(g.until for g in self.going_offline.values())]
        return min(deadlines, default=None)

    def _expire(self, typing: list[UserId], offline: list[UserId]) -> Outcome:
        events: list[ChatEvent] = [
            PresenceUpdated(attrs.evolve(self.presence[user], status=PresenceStatus.ONLINE))
            for user in typing
            if self.presence[user].status is PresenceStatus.TYPING
        ]
        writes: list[StoreWrite] = []
        for user in offline:
            gone = self._change_presence(
                user, PresenceStatus.OFFLINE, self.going_offline[user].since
            )
            events.extend(gone.events)
            writes.extend(gone.writes)
        return Outcome(
            events=tuple(events),
            writes=tuple(writes),
            typing=tuple((user, None) for user in typing),
            offline=tuple((user, None) for user in offline),
        )

    def _end_grace(self, user_id: UserId) -> tuple[tuple[UserId, GoingOffline | None], ...]:
        return ((user_id, None),) if user_id in self.going_offline else ()

    def page(self, page: MessagePage) -> list[Message] | ReadFromStore:
        """A page from the in-memory window when it covers it; else what to read from the store."""
        return self.log.page(page)

    def _require_viewer(self, viewer: UserId | None) -> None:
        if viewer is not None:
            self._require_participant(viewer)

    def _require_participant(self, user_id: UserId) -> None:
        if user_id not in self.participants:
            raise NotAParticipant(user_id, self.chat_id)

    def _message(self, message_id: MessageId, found: Found | None) -> Message:
        """The chat's message ``message_id`` in its current state. Raises ``MessageNotFound``,
        or ``_NeedMessage`` when only the store can tell."""
        message = self.log.find(message_id)
        if message is not None:
            return message
        if found is not None and found.message_id == message_id:
            if found.message is None or found.message.chat_id != self.chat_id:
                raise MessageNotFound(message_id, self.chat_id)
            return found.message
        if self.log.holds_every_message:
            raise MessageNotFound(message_id, self.chat_id)
        raise _NeedMessage(message_id)

    def _post(self, command: PostMessage, now: datetime, found: Found | None) -> Outcome:
        self._require_participant(command.user_id)
        check_content(command.content, self.policy.limits)
        if command.client_message_id is not None:
            original = self.client_ids.get((command.user_id, command.client_message_id))
            if original is not None:
                return Outcome(original)
        if command.reply_to is not None:
            try:
                self._message(command.reply_to, found)
            except MessageNotFound:
                raise InvalidInput(
                    f"reply_to names no message of this chat: {command.reply_to!r}"
                ) from None
        window = self.log.window
        if window and now < window[-1].timestamp:
            now = window[-1].timestamp  # a wall clock that stepped back
        message = Message(
            id=self.new_message_id(),
            chat_id=self.chat_id,
            seq=self.last_seq + 1,
            user_id=command.user_id,
            type=command.type,
            content=command.content,
            timestamp=now,
            client_message_id=command.client_message_id,
            pos=self.last_pos + 1,
            reply_to=command.reply_to,
            mentions=self._mentions(command.type, command.content, command.user_id),
        )
        return Outcome(
            message, events=(MessageReceived(message),), writes=(AppendMessage(message),)
        )

    def _mentions(self, kind: MessageType, content: str, author: UserId) -> tuple[UserId, ...]:
        """Who a text names with ``@`` among the chat's participants now (an image's or an
        audio message's content is a URL: it names nobody). Now is ``self.chat``, which
        follows every member added or removed."""
        if kind is not MessageType.TEXT:
            return ()
        return find_mentions(content, self.chat.participants, author)

    def _own_message(self, user_id: UserId, message_id: MessageId, found: Found | None) -> Message:
        self._require_participant(user_id)
        message = self._message(message_id, found)
        if message.user_id != user_id:
            raise NotTheAuthor(user_id, message_id)
        if message.system is not None:
            # The record of a change to the chat stays as it was: history, not a message.
            raise InvalidInput("a system message can be neither edited nor deleted")
        return message

    # -- the chat itself: title and members -----------------------------------------------

    def _info(self, chat: Chat | None = None) -> ChatInfo:
        return ChatInfo(chat or self.chat, self.last_seq, self.last_pos)

    def _set_title(self, user_id: UserId, title: str | None, now: datetime) -> Outcome:
        self._require_participant(user_id)
        return self._change_chat(retitled(self.chat, user_id, title, self.policy.limits), now)

    def _add(self, user_id: UserId, users: tuple[UserId, ...], now: datetime) -> Outcome:
        self._require_participant(user_id)
        changed = with_members(self.chat, user_id, users, self.policy.limits)
        # Members added have read up to the message that added them: the history from before
        # they came is not unread for them (they can read it all).
        return self._change_chat(changed, now, read_from=changed[1].users if changed else ())

    def _remove(self, user_id: UserId, member: UserId, now: datetime) -> Outcome:
        self._require_participant(user_id)
        outcome = self._change_chat(without_member(self.chat, user_id, member), now)
        dropped = tuple(sub for sub, user in self.socket_users.items() if user == member)
        return attrs.evolve(outcome, dropped=dropped)

    def _change_chat(
        self, changed: tuple[Chat, ChatChange] | None, now: datetime,
        read_from: tuple[UserId, ...] = (),
    ) -> Outcome:  # fmt: skip
        """The chat's new state, recorded by a system message at the next position (None:
        nothing changes, and a retry logs nothing twice); members in ``read_from`` have read up
        to that message."""
        if changed is None:
            return Outcome(ChatChanged(self._info()))
        chat, change = changed
        window = self.log.window
        if window and now < window[-1].timestamp:
            now = window[-1].timestamp  # a wall clock that stepped back
        message = Message(
            id=self.new_message_id(),
            chat_id=self.chat_id,
            seq=self.last_seq + 1,
            user_id=change.by,
            type=MessageType.TEXT,
            content=describe(change),
            timestamp=now,
            pos=self.last_pos + 1,
            system=change,
        )
        marks = tuple(ReadMark(user, message.id, message.seq) for user in read_from)
        events: list[ChatEvent] = [MessageReceived(message), ChatUpdated(chat, change)]
        events.extend(ChatRead(self.chat_id, m.user_id, m.message_id, m.seq) for m in marks)
        answer = ChatChanged(ChatInfo(chat, message.seq, message.pos), message)
        write = UpdateChat(ChatUpdate(chat, message, marks))
        return Outcome(answer, events=tuple(events), writes=(write,))

    def _edit(self, command: EditMessage, now: datetime, found: Found | None) -> Outcome:
        message = self._own_message(command.user_id, command.message_id, found)
        if message.deleted:
            raise MessageDeleted(message.id)
        if message.type is not MessageType.TEXT:
            raise InvalidInput(f"only text messages can be edited; this one is {message.type}")
        check_content(command.content, self.policy.limits)
        if command.content == message.content:
            return Outcome(message)  # nothing changes: a retried edit logs nothing twice
        edited_at = max(now, message.timestamp)  # a wall clock that stepped back
        edited = attrs.evolve(
            message,
            content=command.content,
            edited_at=edited_at,
            mentions=self._mentions(message.type, command.content, message.user_id),
        )
        return self._change(edited, ChangeKind.EDITED)

    def _delete(self, command: DeleteMessage, found: Found | None) -> Outcome:
        message = self._own_message(command.user_id, command.message_id, found)
        if message.deleted:
            return Outcome(message)
        deleted = attrs.evolve(message, content="", deleted=True, reactions=(), mentions=())
        return self._change(deleted, ChangeKind.DELETED)

    def _react(self, command: React, found: Found | None) -> Outcome:
        self._require_participant(command.user_id)
        emoji, user = check_emoji(command.emoji), command.user_id
        message = self._message(command.message_id, found)
        if message.deleted:
            if command.add:
                raise MessageDeleted(message.id)
            return Outcome(message)  # its reactions are gone already
        reactions = list(message.reactions)
        index = next((i for i, r in enumerate(reactions) if r.emoji == emoji), None)
        users = () if index is None else reactions[index].users
        if command.add == (user in users):
            return Outcome(message)  # set semantics: already so
        if not command.add:
            assert index is not None
            remaining = tuple(u for u in users if u != user)
            if remaining:
                reactions[index] = Reaction(emoji, remaining)
            else:
                del reactions[index]
        elif index is not None:
            reactions[index] = Reaction(emoji, (*users, user))
        elif len(reactions) >= self.policy.max_reaction_keys:
            raise InvalidInput(
                f"a message has at most {self.policy.max_reaction_keys} different reactions"
            )
        else:
            reactions.append(Reaction(emoji, (user,)))
        kind = ChangeKind.REACTION_ADDED if command.add else ChangeKind.REACTION_REMOVED
        return self._change(attrs.evolve(message, reactions=tuple(reactions)), kind)

    def _change(self, message: Message, kind: ChangeKind) -> Outcome:
        """``message`` in its new state, as the next entry of the log."""
        pos = self.last_pos + 1
        write = ChangeMessage(MessageChange(message, pos, kind, self.last_seq))
        return Outcome(message, events=(MessageUpdated(message, pos, kind),), writes=(write,))

    def _change_presence(self, user_id: UserId, status: PresenceStatus, now: datetime) -> Outcome:
        """Store and broadcast a status only if it changed (typing floods stay cheap)."""
        current = self.presence[user_id]
        if current.status is status:
            return Outcome(current)
        if status is not PresenceStatus.OFFLINE:
            updated = Presence(user_id, status, current.last_seen)
            return Outcome(updated, events=(PresenceUpdated(updated),))
        updated = Presence(user_id, status, now)
        write = SaveLastSeen(self.chat_id, user_id, now)
        return Outcome(updated, events=(PresenceUpdated(updated),), writes=(write,))

    def _mark_read(self, user_id: UserId) -> Outcome:
        self._require_participant(user_id)
        current = self.read_marks.get(user_id, ReadMark(user_id, None, 0))
        window = self.log.window
        if not window or current.seq >= self.last_seq:
            return Outcome(current)
        mark = ReadMark(user_id, window[-1].id, self.last_seq)
        event = ChatRead(self.chat_id, user_id, mark.message_id, mark.seq)
        return Outcome(mark, events=(event,), writes=(SaveReadMark(self.chat_id, mark),))

    def _subscribe(
        self, user_id: UserId | None, after_seq: int | None, after_pos: int | None, now: datetime
    ) -> Outcome:
        if user_id is not None:
            self._require_participant(user_id)
        replay: tuple[LogEvent, ...] | ReadFromStore | ReadLogFromStore = ()
        resync = False
        if after_pos is not None:
            if after_pos < self.last_pos:
                missed = self.last_pos - max(after_pos, 0)
                if missed > self.policy.max_replay:
                    resync = True
                else:
                    replay = self.log.replay(max(after_pos, 0), self.last_pos, missed)
        elif after_seq is not None and after_seq < self.last_seq:
            missed = self.last_seq - max(after_seq, 0)
            if missed > self.policy.max_replay:
                resync = True
            else:
                page = self.page(MessagePage(limit=missed, after_seq=max(after_seq, 0)))
                replay = (
                    page
                    if isinstance(page, ReadFromStore)
                    else tuple(MessageReceived(m) for m in page)
                )
        subscriber_id = self.last_subscriber_id + 1
        plan = SubscribePlan(subscriber_id, user_id, replay, resync, self.last_seq, self.last_pos)
        if user_id is None:
            return Outcome(plan, joined=(subscriber_id, None))
        # Back within the grace: they never went offline, so nothing is published.
        going_online = _NOTHING
        if self.presence[user_id].status is PresenceStatus.OFFLINE:
            going_online = self._change_presence(user_id, PresenceStatus.ONLINE, now)
        return Outcome(
            plan,
            events=going_online.events,
            joined=(subscriber_id, user_id),
            offline=self._end_grace(user_id),
        )

    def _unsubscribe(self, subscriber_id: int, now: datetime, clock: float) -> Outcome:
        user_id = self.socket_users.get(subscriber_id)
        others = [
            s for s, user in self.socket_users.items() if user == user_id and s != subscriber_id
        ]
        if user_id is None or others:
            return Outcome(left=subscriber_id)
        grace = self.policy.presence_grace_s
        if grace <= 0 or self.presence[user_id].status is PresenceStatus.OFFLINE:
            offline = self._change_presence(user_id, PresenceStatus.OFFLINE, now)
            return attrs.evolve(offline, result=None, typing=((user_id, None),), left=subscriber_id)
        # Typing ends with the socket (no socket is left to type through, and a typing
        # indicator outliving its socket would mislead for the whole grace); offline waits.
        online = self._change_presence(user_id, PresenceStatus.ONLINE, now)
        return Outcome(
            events=online.events,
            typing=((user_id, None),),
            offline=((user_id, GoingOffline(clock + grace, now)),),
            left=subscriber_id,
        )

    # -- committing -----------------------------------------------------------------------

    def commit(self, outcome: Outcome) -> None:
        """Adopt what ``outcome`` decided (once its writes are durable)."""
        if outcome.events:
            self._adopt(outcome.events)
        for user_id, until in outcome.typing:
            if until is None:
                self.typing_until.pop(user_id, None)
            else:
                self.typing_until[user_id] = until
        for user_id, grace in outcome.offline:
            if grace is None:
                self.going_offline.pop(user_id, None)
            else:
                self.going_offline[user_id] = grace
        if outcome.joined is not None:
            subscriber_id, joining = outcome.joined
            self.last_subscriber_id = subscriber_id
            if joining is not None:
                self.socket_users[subscriber_id] = joining
        if outcome.left is not None:
            self.socket_users.pop(outcome.left, None)

    def _adopt(self, events: Iterable[ChatEvent]) -> None:
        for event in events:
            match event:
                case MessageReceived(message):
                    self.log.append(message)
                    if message.client_message_id is not None:
                        self.client_ids[(message.user_id, message.client_message_id)] = message
                        while len(self.client_ids) > self.policy.idempotency_window:
                            self.client_ids.popitem(last=False)
                case MessageUpdated(message, pos, change):
                    self.log.replace(message, pos, change)
                    # A retried send answers the message as it is now (a deleted one without
                    # its text), not as it was first stored.
                    if message.client_message_id is not None:
                        key = (message.user_id, message.client_message_id)
                        if key in self.client_ids:
                            self.client_ids[key] = message
                case PresenceUpdated(presence):
                    self.presence[presence.user_id] = presence
                case ChatRead(_, user_id, message_id, seq):
                    self.read_marks[user_id] = ReadMark(user_id, message_id, seq)
                case ChatUpdated(chat):
                    self._take_chat(chat)
                case _:
                    assert_never(event)

    def _take_chat(self, chat: Chat) -> None:
        """Adopt the chat's new title and members. A member gone has no presence, timers or
        sockets here any more (the actor ends those subscriptions); a member added is offline,
        last seen when added (the system message just adopted), until a socket of theirs
        opens."""
        self.chat = chat
        self.participants = frozenset(chat.participants)
        for user in [user for user in self.presence if user not in self.participants]:
            del self.presence[user]
            self.typing_until.pop(user, None)
            self.going_offline.pop(user, None)
        self.socket_users = {
            sub: user for sub, user in self.socket_users.items() if user in self.participants
        }
        window = self.log.window
        added_at = window[-1].timestamp if window else chat.created_at
        for user in chat.participants:
            if user not in self.presence:
                self.presence[user] = Presence(user, PresenceStatus.OFFLINE, added_at)
