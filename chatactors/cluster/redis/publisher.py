"""Publisher: every PUBLISH a process sends, batched into one Redis pipeline per round trip.

Each write and each read costs a system call and a wake-up; a pipeline pays them once for all
its commands. Events, forwarded commands and their answers are all PUBLISHes, so the node sends
them from one task: whatever callers queued while the previous batch was in flight goes out as
the next pipeline, and so does whatever several callers queued in one go (an owner's event and
its answer to the command that made it, queued from the actor's task: one write). Under load the
batches grow by themselves; when idle a lone PUBLISH goes out at once, as a plain command (no
added latency, no timer). Writes that must travel with some PUBLISHes (the owner's presence
snapshot beside the events that change it) go in the same pipeline, before them.

Callers either wait (``publish``, ``publish_all``: with how many nodes listened;
``publish_all_quietly``) or queue and go on (``send_nowait``: told how it went by a callback,
in the publisher's task), so that a task that must not wait (an actor answering) needs no task
of its own to publish.

Batches go out in the order they were queued and Redis runs a pipeline's commands in order, so
a caller that queues its messages together (a chat's events) gets them published in order.

The queue is bounded (``queue_size`` groups). When it is full, Redis is already far behind
(thousands of messages wait for it): a caller is told "unavailable" at once, never made to
wait for room (that would only turn the same answer into a later one), and ``queue_full``
counts it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import attrs
import trio

from chatactors.cluster.redis.connection import Arg
from chatactors.cluster.redis.errors import RedisReplyError, RedisUnavailable
from chatactors.cluster.redis.link import RedisLink

log = logging.getLogger(__name__)

#: Most commands in one pipeline (bounds one round trip's size; the rest go in the next).
MAX_BATCH = 256
#: Groups of commands waiting for the publisher at most, by default.
PUBLISH_QUEUE_SIZE = 4096


#: What a queued caller is told once its commands went out (None) or could not (why).
OnSent = Callable[[RedisUnavailable | None], None]


@attrs.define(eq=False)
class _Group:
    """Commands one caller queued together: sent together, in order, or failed together."""

    commands: Sequence[Sequence[Arg]]
    #: Sent without reading Redis's replies (no count of listeners; see ``quietly``).
    quiet: bool = False
    #: For callers that wait (``_queue``); ``send_nowait``'s are told through ``on_sent``.
    done: trio.Event | None = None
    receivers: list[int] = attrs.field(factory=list)
    error: BaseException | None = None
    on_sent: OnSent | None = None

    def finish(self, error: BaseException | None, unavailable: type[RedisUnavailable]) -> None:
        self.error = error
        if self.done is not None:
            self.done.set()
        if self.on_sent is not None:
            if error is None:
                self.on_sent(None)
            else:
                failed = unavailable()
                failed.__cause__ = error
                self.on_sent(failed)


@attrs.frozen
class PublisherStatistics:
    #: Pipelines sent, and the commands they carried (their ratio is the mean batch).
    batches: int
    commands: int
    #: Groups refused because the queue was full (Redis far behind).
    queue_full: int
    #: Groups waiting for the publisher now.
    queued: int


@attrs.define(eq=False)
class Publisher:
    _link: RedisLink
    _send: trio.MemorySendChannel[_Group]
    _receive: trio.MemoryReceiveChannel[_Group]
    _batches: int = 0
    _commands: int = 0
    _queue_full: int = 0

    @classmethod
    def open(cls, link: RedisLink, queue_size: int = PUBLISH_QUEUE_SIZE) -> Publisher:
        send, receive = trio.open_memory_channel[_Group](queue_size)
        return cls(link, send, receive)

    def statistics(self) -> PublisherStatistics:
        return PublisherStatistics(
            batches=self._batches,
            commands=self._commands,
            queue_full=self._queue_full,
            queued=self._receive.statistics().current_buffer_used,
        )

    async def publish(self, channel: str, data: bytes) -> int:
        """Send to every node listening; returns how many did (0: nobody listens).
        the link's ``unavailable`` if Redis is unreachable or does not answer in time."""
        return (await self.publish_all([(channel, data)]))[0]

    async def publish_all(self, messages: Sequence[tuple[str, bytes]]) -> list[int]:
        """Publish ``messages`` in order, in one pipeline when they fit; how many nodes got
        each. All fail together (the link's ``unavailable``); some may have been sent then."""
        if not messages:
            return []
        return (await self._queue(_Group(_publishes(messages)))).receivers

    async def publish_all_quietly(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """As :meth:`publish_all`, for senders that need no count (events, answers): Redis
        is asked not to reply, so the batch costs this node a write and no read. Done once
        written; the link's ``unavailable`` if the write fails or Redis is stuck (writes block)."""
        if messages:
            await self._queue(_Group(_publishes(messages), quiet=True))

    def send_nowait(self, commands: Sequence[Sequence[Arg]], on_sent: OnSent | None = None) -> None:
        """Queue ``commands`` (PUBLISHes, and writes that go with them), replies unread, for the
        next pipeline; never waits. ``on_sent`` is called in the publisher's task, once they
        are written (with None) or could not be (with the link's ``unavailable``); it must not
        block or raise. Raises the link's ``unavailable`` at once if the queue is full (then
        ``on_sent`` is not called)."""
        if commands:
            self._put(_Group(commands, quiet=True, on_sent=on_sent))

    def _put(self, group: _Group) -> None:
        try:
            self._send.send_nowait(group)
        except trio.WouldBlock:
            self._queue_full += 1
            raise self._link.unavailable() from None

    async def _queue(self, group: _Group) -> _Group:
        group.done = done = trio.Event()
        self._put(group)
        try:
            with trio.fail_after(self._link.timeout_s):
                await done.wait()
        except trio.TooSlowError:
            raise self._link.unavailable() from None
        if group.error is not None:
            raise self._link.unavailable() from group.error
        return group

    async def run(self) -> None:
        """Send what was queued, batch by batch, for the node's lifetime."""
        async for first in self._receive:
            groups, size = [first], len(first.commands)
            while size < MAX_BATCH:
                try:
                    group = self._receive.receive_nowait()
                except trio.WouldBlock:
                    break
                groups.append(group)
                size += len(group.commands)
            await self._send_batch(groups)

    async def _send_batch(self, groups: list[_Group]) -> None:
        commands = [command for group in groups for command in group.commands]
        quiet = [group.quiet for group in groups for _ in group.commands]
        try:
            replies = await self._link.execute_many(commands, quiet)
            refused = next((r for r in replies if isinstance(r, RedisReplyError)), None)
            if refused is not None:
                # PUBLISH is refused only by a Redis misconfigured for this client (an ACL
                # without the channel, say): to the callers, Redis is unavailable.
                log.error("Redis refused a PUBLISH: %s", refused)
                raise refused
        except Exception as error:
            if not isinstance(error, RedisUnavailable | RedisReplyError):
                # A bug: its callers fail (unavailable), the publisher goes on.
                log.exception("publishing a batch failed")
            for group in groups:
                self._finish(group, error)
            return
        self._batches += 1
        self._commands += len(commands)
        start = 0
        for group in groups:
            end = start + len(group.commands)
            if not group.quiet:
                group.receivers = [int(reply) for reply in replies[start:end]]
            start = end
            self._finish(group, None)

    def _finish(self, group: _Group, error: BaseException | None) -> None:
        try:
            group.finish(error, self._link.unavailable)
        except Exception:  # a caller's callback that raised: a bug there, not here
            log.exception("a publisher callback failed")


def _publishes(messages: Sequence[tuple[str, bytes]]) -> list[tuple[str, str, bytes]]:
    return [("PUBLISH", channel, data) for channel, data in messages]
