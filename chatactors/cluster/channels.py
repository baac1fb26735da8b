"""Channels: one Redis Pub/Sub connection per node, each channel dispatched to a handler.

Handlers are synchronous and must never block (they offer to bounded queues with
``send_nowait``), so one slow consumer can never hold up the connection or the other channels.
coredis reconnects and re-subscribes by itself after Redis comes back; messages published
meanwhile are lost (Pub/Sub keeps nothing), which is why subscribers resume by ``seq``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import attrs
import coredis.exceptions
import trio
from coredis.patterns.pubsub import PubSub
from coredis.retry import CompositeRetryPolicy, ConstantRetryPolicy, ExponentialBackoffRetryPolicy

from chatactors.cluster.errors import single_errors
from chatactors.cluster.publisher import Publisher
from chatactors.cluster.redis_link import RedisLink

log = logging.getLogger(__name__)

Handler = Callable[[bytes], None]

#: After Redis comes back, a node is subscribed again within about this long.
RESUBSCRIBE_MAX_DELAY_S = 1.0


@attrs.define(eq=False)
class Channels:
    _link: RedisLink
    _pubsub: PubSub[bytes]
    publisher: Publisher
    _handlers: dict[bytes, Handler] = attrs.field(factory=dict)
    #: Messages that arrived for a channel nobody here listens to any more.
    unclaimed: int = 0

    async def listen(self, channel: str, handler: Handler) -> None:
        """Dispatch the channel's messages to ``handler``; ``ClusterUnavailable`` if Redis is
        unreachable (nothing is then subscribed)."""
        key = channel.encode()
        self._handlers[key] = handler
        try:
            await self._link.run(self._pubsub.subscribe(channel))
        except BaseException:
            self._handlers.pop(key, None)
            raise

    async def unlisten(self, channel: str) -> None:
        """Stop dispatching at once; unsubscribing in Redis may fail (``ClusterUnavailable``),
        and then only costs ignored messages until Redis drops the connection."""
        self._handlers.pop(channel.encode(), None)
        await self._link.run(self._pubsub.unsubscribe(channel))

    async def publish(self, channel: str, data: bytes) -> int:
        """Send to every node listening; returns how many did (0: nobody listens)."""
        return await self.publisher.publish(channel, data)

    async def publish_all(self, messages: Sequence[tuple[str, bytes]]) -> list[int]:
        """Publish in order, together (see ``Publisher.publish_all``)."""
        return await self.publisher.publish_all(messages)

    async def _dispatch(self) -> None:
        while True:
            message = await self._pubsub.get_message(ignore_subscribe_messages=True)
            if message is None or message["type"] != "message":
                continue
            channel = message["channel"]
            handler = self._handlers.get(
                channel if isinstance(channel, bytes) else channel.encode()
            )
            data = message["data"]
            if handler is None or not isinstance(data, bytes):
                self.unclaimed += 1
                continue
            handler(data)


@asynccontextmanager
async def open_channels(link: RedisLink) -> AsyncIterator[Channels]:
    """Raises ``ClusterUnavailable`` at once if Redis is unreachable when opening."""
    await link.run(link.client.ping())
    retry = CompositeRetryPolicy(
        ExponentialBackoffRetryPolicy(
            (coredis.exceptions.ConnectionError,),
            retries=None,
            base_delay=0.05,
            max_delay=RESUBSCRIBE_MAX_DELAY_S,
            jitter=True,
        ),
        ConstantRetryPolicy((TimeoutError,), retries=2, delay=0.05),
    )
    pubsub = link.client.pubsub(retry_policy=retry, subscription_timeout=link.timeout_s)
    with single_errors(), trio.CancelScope() as closing:
        async with pubsub, trio.open_nursery() as nursery:
            channels = Channels(link, pubsub, Publisher.open(link))
            nursery.start_soon(channels._dispatch)
            nursery.start_soon(channels.publisher.run)
            try:
                yield channels
            finally:
                nursery.cancel_scope.cancel()
                # coredis's PubSub exit cancels only its current connection's tasks: if its
                # reconnect loop is between attempts (Redis was paused past the stream
                # timeout), the exit waits forever. Cancelling around it bounds the exit (its
                # own cleanup is shielded and bounded by its unsubscription timeout).
                closing.cancel()
