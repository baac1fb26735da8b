"""Publisher: every PUBLISH a process sends, batched into one Redis pipeline per round trip.

Each write and each read costs a system call and a wake-up; a pipeline pays them once for all
its commands. Events, forwarded commands and their answers are all PUBLISHes, so the node sends
them from one task: whatever callers queued while the previous batch was in
flight goes out as the next pipeline. Under load the batches grow by themselves; when idle a
lone PUBLISH goes out at once, as a plain command (no added latency, no timer).

Batches go out in the order they were queued and Redis runs a pipeline's commands in order, so
a caller that queues its messages together (a chat's events) gets them published in order.

The queue is bounded (``queue_size`` groups). When it is full, Redis is already far behind
(thousands of messages wait for it): a caller is told "unavailable" at once, never made to
wait for room (that would only turn the same answer into a later one), and ``queue_full``
counts it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import attrs
import trio

from chatactors.cluster.redis.errors import RedisReplyError, RedisUnavailable
from chatactors.cluster.redis.link import RedisLink

log = logging.getLogger(__name__)

#: Most PUBLISHes in one pipeline (bounds one round trip's size; the rest go in the next).
MAX_BATCH = 256


@attrs.define(eq=False)
class _Group:
    """Messages one caller queued together: published together, in order, or failed together."""

    messages: Sequence[tuple[str, bytes]]
    #: Sent without asking how many nodes listened (no reply from Redis; see ``quietly``).
    quiet: bool = False
    done: trio.Event = attrs.field(factory=trio.Event)
    receivers: list[int] = attrs.field(factory=list)
    error: BaseException | None = None


@attrs.define(eq=False)
class Publisher:
    _link: RedisLink
    _send: trio.MemorySendChannel[_Group]
    _receive: trio.MemoryReceiveChannel[_Group]
    #: Pipelines sent and the PUBLISHes they carried (their ratio is the mean batch).
    batches: int = 0
    messages: int = 0
    #: Groups refused because the queue was full (Redis far behind).
    queue_full: int = 0

    @classmethod
    def open(cls, link: RedisLink, queue_size: int = 4096) -> Publisher:
        send, receive = trio.open_memory_channel[_Group](queue_size)
        return cls(link, send, receive)

    async def publish(self, channel: str, data: bytes) -> int:
        """Send to every node listening; returns how many did (0: nobody listens).
        the link's ``unavailable`` if Redis is unreachable or does not answer in time."""
        return (await self.publish_all([(channel, data)]))[0]

    async def publish_all(self, messages: Sequence[tuple[str, bytes]]) -> list[int]:
        """Publish ``messages`` in order, in one pipeline when they fit; how many nodes got
        each. All fail together (the link's ``unavailable``); some may have been sent then."""
        if not messages:
            return []
        return (await self._queue(_Group(messages))).receivers

    async def publish_all_quietly(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """As :meth:`publish_all`, for senders that need no count (events, answers): Redis
        is asked not to reply, so the batch costs this node a write and no read. Done once
        written; the link's ``unavailable`` if the write fails or Redis is stuck (writes block)."""
        if messages:
            await self._queue(_Group(messages, quiet=True))

    async def _queue(self, group: _Group) -> _Group:
        try:
            self._send.send_nowait(group)
        except trio.WouldBlock:
            self.queue_full += 1
            raise self._link.unavailable() from None
        try:
            with trio.fail_after(self._link.timeout_s):
                await group.done.wait()
        except trio.TooSlowError:
            raise self._link.unavailable() from None
        if group.error is not None:
            raise self._link.unavailable() from group.error
        return group

    async def run(self) -> None:
        """Send what was queued, batch by batch, for the node's lifetime."""
        async for first in self._receive:
            groups, size = [first], len(first.messages)
            while size < MAX_BATCH:
                try:
                    group = self._receive.receive_nowait()
                except trio.WouldBlock:
                    break
                groups.append(group)
                size += len(group.messages)
            await self._send_batch(groups)

    async def _send_batch(self, groups: list[_Group]) -> None:
        commands = [
            ("PUBLISH", channel, data) for group in groups for channel, data in group.messages
        ]
        quiet = [group.quiet for group in groups for _ in group.messages]
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
                group.error = error
                group.done.set()
            return
        self.batches += 1
        self.messages += len(commands)
        start = 0
        for group in groups:
            end = start + len(group.messages)
            if not group.quiet:
                group.receivers = [int(reply) for reply in replies[start:end]]
            start = end
            group.done.set()
