"""Publisher: every PUBLISH a node sends, batched into one Redis pipeline per round trip.

Each write and each read costs a system call and a wake-up; a pipeline pays them once for all
its commands. Events, forwarded commands and their answers are all PUBLISHes, so the node sends
them from one task: whatever callers queued while the previous batch was in
flight goes out as the next pipeline. Under load the batches grow by themselves; when idle a
lone PUBLISH goes out at once, as a plain command (no added latency, no timer).

Batches go out in the order they were queued and Redis runs a pipeline's commands in order, so
a caller that queues its messages together (a chat's events) gets them published in order.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import trio

from chatactors.cluster.errors import ClusterUnavailable
from chatactors.cluster.redis_connection import RedisReplyError
from chatactors.cluster.redis_link import RedisLink

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

    @classmethod
    def open(cls, link: RedisLink, queue_size: int = 4096) -> Publisher:
        send, receive = trio.open_memory_channel[_Group](queue_size)
        return cls(link, send, receive)

    async def publish(self, channel: str, data: bytes) -> int:
        """Send to every node listening; returns how many did (0: nobody listens).
        ``ClusterUnavailable`` if Redis is unreachable or does not answer in time."""
        return (await self.publish_all([(channel, data)]))[0]

    async def publish_all(self, messages: Sequence[tuple[str, bytes]]) -> list[int]:
        """Publish ``messages`` in order, in one pipeline when they fit; how many nodes got
        each. All fail together (``ClusterUnavailable``); some may have been sent then."""
        if not messages:
            return []
        return (await self._queue(_Group(messages))).receivers

    async def publish_all_quietly(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """As :meth:`publish_all`, for senders that need no count (events, answers): Redis
        is asked not to reply, so the batch costs this node a write and no read. Done once
        written; ``ClusterUnavailable`` if the write fails or Redis is stuck (writes block)."""
        if messages:
            await self._queue(_Group(messages, quiet=True))

    async def _queue(self, group: _Group) -> _Group:
        try:
            with trio.fail_after(self._link.timeout_s):
                await self._send.send(group)
                await group.done.wait()
        except trio.TooSlowError:
            raise ClusterUnavailable() from None
        if group.error is not None:
            raise group.error
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
            for reply in replies:
                if isinstance(reply, RedisReplyError):
                    raise reply
        except (ClusterUnavailable, RedisReplyError) as error:
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
