"""Group commit, whatever the engine: one writer task commits every chat's queued writes at once.

Callers queue a write and wait. The writer takes whatever is queued (up to a batch limit),
commits it in one transaction in a worker thread, and only then wakes the callers: under load,
one fsync covers many messages. The engine's commit function returns one outcome per write: a
result, or an exception for a write that was refused and changed nothing (a stale owner), while
the rest of the batch commits.

A commit is bounded by the store's timeout (``thread_calls``): one the store does not confirm in
time fails every write of its batch with ``OutcomeUnknown`` if the batch had gone out, or with
``StoreNotAnswering`` if not. Such a batch is never retried here: its writes may have landed.
While a commit given up on still runs, every new batch fails at once (nothing is sent).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TypeVar

import attrs
import trio

from chatactors.domain.clock import to_epoch_ms
from chatactors.domain.errors import OutcomeUnknown
from chatactors.domain.ids import ChatId, UserId
from chatactors.domain.models import Chat, Message, ReadMark
from chatactors.storage.store import ChatUpdate, MessageChange, StoreUnavailable
from chatactors.storage.thread_calls import Sending, ThreadCalls

log = logging.getLogger(__name__)
T = TypeVar("T")


@attrs.frozen
class CreateChat:
    chat: Chat


@attrs.frozen
class ClaimChat:
    """Raise the chat's owner token by one; the outcome is the new token, or None if unknown."""

    chat_id: ChatId


@attrs.frozen
class AppendMessage:
    message: Message
    owner: int


@attrs.frozen
class ChangeMessage:
    change: MessageChange
    owner: int


@attrs.frozen
class UpdateChat:
    update: ChatUpdate
    owner: int


@attrs.frozen
class SetReadMark:
    chat_id: ChatId
    mark: ReadMark
    owner: int


@attrs.frozen
class SetLastSeen:
    chat_id: ChatId
    user_id: UserId
    seen_ms: int
    owner: int


WriteOp = (
    CreateChat | ClaimChat | AppendMessage | ChangeMessage | UpdateChat | SetReadMark | SetLastSeen
)
#: Runs in a worker thread: commit every op in one transaction; one outcome per op. It calls
#: ``sending()`` right before the transaction can first take effect, and raises
#: ``StoreUnavailable`` when it surely did not commit, ``OutcomeUnknown`` when it cannot tell.
CommitFn = Callable[[Sequence[WriteOp], Sending], list[object]]


@attrs.define(eq=False)
class _PendingWrite:
    op: WriteOp
    done: trio.Event = attrs.field(factory=trio.Event)
    outcome: object = None


@attrs.frozen
class CommitStatistics:
    """A snapshot of :meth:`GroupCommit.statistics`: totals since the store opened."""

    #: Transactions committed, and the writes they held (failed writes count in neither):
    #: writes / batches is the mean batch.
    batches_committed: int
    writes_committed: int
    #: Batches whose transaction failed and whose writes were then committed one by one.
    batches_split: int


@attrs.define(eq=False)
class GroupCommit:
    """The write side of a store: ``write`` queues, ``run`` commits in batches."""

    _commit: CommitFn
    _batch_max: int
    _writes: trio.MemorySendChannel[_PendingWrite]
    _receive: trio.MemoryReceiveChannel[_PendingWrite]
    #: One thread at a time: commits never overlap (nor with ``run_exclusive``).
    _calls: ThreadCalls
    _batches_committed: int = 0
    _writes_committed: int = 0
    _batches_split: int = 0
    _write_failure: str | None = None

    @classmethod
    def open(
        cls, commit: CommitFn, batch_max: int, queue_size: int, timeout_s: float = 0.0
    ) -> GroupCommit:
        """``timeout_s``: how long a commit may take before it is given up on (0: no bound)."""
        send, receive = trio.open_memory_channel[_PendingWrite](queue_size)
        calls = ThreadCalls(trio.CapacityLimiter(1), timeout_s)
        return cls(commit, batch_max, send, receive, calls)

    @property
    def stuck(self) -> bool:
        """A commit (or exclusive call) given up on still runs: the store is not answering."""
        return self._calls.stuck > 0

    @property
    def write_failure(self) -> str | None:
        """Why the last batch failed, while the store fails (a full disk, PostgreSQL down);
        None once a batch commits (or a :meth:`probe` succeeds)."""
        return self._write_failure

    def statistics(self) -> CommitStatistics:
        return CommitStatistics(
            batches_committed=self._batches_committed,
            writes_committed=self._writes_committed,
            batches_split=self._batches_split,
        )

    async def write(self, op: WriteOp) -> object:
        """Queue ``op``; its outcome once committed. Raises what the commit raised for it."""
        pending = _PendingWrite(op)
        await self._writes.send(pending)
        await pending.done.wait()
        if isinstance(pending.outcome, BaseException):
            raise pending.outcome
        return pending.outcome

    async def claim_chat(self, chat_id: ChatId) -> int | None:
        token = await self.write(ClaimChat(chat_id))
        assert token is None or isinstance(token, int)
        return token

    async def close(self) -> None:
        """Stop taking writes; ``run`` commits what is queued, then returns."""
        await self._writes.aclose()

    async def run(self) -> None:
        """Commit queued writes in batches until closed and drained."""
        async with self._receive:
            async for first in self._receive:
                batch = [first]
                while len(batch) < self._batch_max:
                    try:
                        batch.append(self._receive.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                await self._commit_batch(batch)
                for pending in batch:
                    pending.done.set()

    async def _commit_batch(self, batch: list[_PendingWrite]) -> None:
        """Commit ``batch`` in one transaction; if that fails, commit each write alone, so that
        one bad write (say, a constraint a buggy chat broke) fails only its own caller. An
        unreachable store fails the whole batch at once: alone, each write would fail too."""
        try:
            outcomes = await self._commit_in_thread([pending.op for pending in batch])
        except (StoreUnavailable, OutcomeUnknown) as error:
            # Not retried write by write: unreachable, each would fail too; unconfirmed, each
            # may have landed already.
            self._write_failure = str(error.__cause__ or error)
            log.warning("commit of %d writes failed: %s", len(batch), self._write_failure)
            for pending in batch:
                pending.outcome = error
            return
        except Exception as error:
            if len(batch) == 1:
                log.exception("commit of a write failed")
                batch[0].outcome = error
                return
            log.warning("commit of %d writes failed (%s); committing them one by one",
                        len(batch), error)  # fmt: skip
            self._batches_split += 1
            for pending in batch:
                try:
                    [pending.outcome] = await self._commit_in_thread([pending.op])
                except Exception as single_error:
                    log.exception("commit of a write failed")
                    pending.outcome = single_error
            return
        self._write_failure = None
        for pending, outcome in zip(batch, outcomes, strict=True):
            pending.outcome = outcome

    async def run_exclusive(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` in a worker thread, never beside a commit (say, on the write connection).

        Raises ``StoreNotAnswering`` if it does not return within the timeout."""
        return await self._calls.read(fn)

    async def probe(self, fn: Callable[[], T]) -> T:
        """Run ``fn``, a write that shows whether the store takes writes again, as
        :meth:`run_exclusive`; once it returns, ``write_failure`` is cleared."""
        result = await self.run_exclusive(fn)
        self._write_failure = None
        return result

    async def _commit_in_thread(self, ops: list[WriteOp]) -> list[object]:
        outcomes = await self._calls.call(lambda sending: self._commit(ops, sending))
        self._batches_committed += 1
        self._writes_committed += sum(not isinstance(o, BaseException) for o in outcomes)
        return outcomes


@attrs.define(eq=False)
class GroupCommitWrites:
    """The ChatStore write methods of an engine whose writes go through group commit."""

    _writer: GroupCommit

    def statistics(self) -> CommitStatistics:
        """The store's commits so far (its group commit's)."""
        return self._writer.statistics()

    @property
    def write_failure(self) -> str | None:
        """Why writes fail now (None while they succeed)."""
        return self._writer.write_failure

    async def create_chat(self, chat: Chat) -> None:
        await self._writer.write(CreateChat(chat))

    async def append_message(self, message: Message, *, owner: int) -> None:
        await self._writer.write(AppendMessage(message, owner))

    async def change_message(self, change: MessageChange, *, owner: int) -> None:
        await self._writer.write(ChangeMessage(change, owner))

    async def update_chat(self, update: ChatUpdate, *, owner: int) -> None:
        await self._writer.write(UpdateChat(update, owner))

    async def set_read_mark(self, chat_id: ChatId, mark: ReadMark, *, owner: int) -> None:
        await self._writer.write(SetReadMark(chat_id, mark, owner))

    async def set_last_seen(
        self, chat_id: ChatId, user_id: UserId, moment: datetime, *, owner: int
    ) -> None:
        await self._writer.write(SetLastSeen(chat_id, user_id, to_epoch_ms(moment), owner))
