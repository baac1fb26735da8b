"""ChatBus: chat events between nodes (Centrifugo's Redis engine, in small).

The chat's owner publishes each event once, encoded once, on the chat's channel. A node with
local subscribers to that chat listens to the channel (one Redis subscription per chat per
node, however many sockets), decodes each event once, and offers it to every local subscriber
with the actors' own ``Fanout`` (one ``Envelope`` for all, so the web edge encodes its frame
once per node): bounded, never blocking; a subscriber that falls behind is dropped
(``EndReason.LAGGED``) and resumes by ``seq``.
"""

from __future__ import annotations

import itertools
import logging
from functools import partial

import attrs
import trio

from chatactors.actors.subscription import EndReason, Fanout, SharedOutbox, Subscription
from chatactors.cluster import codec
from chatactors.cluster.channels import Channels
from chatactors.domain.events import ChatEvent
from chatactors.domain.ids import ChatId, UserId

log = logging.getLogger(__name__)


def chat_channel(chat_id: ChatId) -> str:
    return f"chatactors:chat:{chat_id}"


@attrs.define(eq=False)
class _Listening:
    """A chat this node listens to; ``ready`` once Redis confirmed the subscription."""

    fanout: Fanout = attrs.field(factory=Fanout)
    ready: trio.Event = attrs.field(factory=trio.Event)
    failed: bool = False


@attrs.define(eq=False)
class ChatBus:
    _channels: Channels
    #: Frames a subscriber may have queued before it counts as lagging (``ws_queue_size``).
    queue_size: int
    _chats: dict[ChatId, _Listening] = attrs.field(factory=dict)
    published: int = 0
    received: int = 0
    undecodable: int = 0
    _lagged_before: int = 0
    _ids: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1))

    async def publish(self, chat_id: ChatId, event: ChatEvent) -> int:
        """Publish once for every node; returns how many nodes listen. ``ClusterUnavailable``
        if Redis is unreachable (the event is then not delivered to other nodes)."""
        nodes = await self._channels.publish(chat_channel(chat_id), codec.encode_event(event))
        self.published += 1
        return nodes

    async def subscribe(
        self, chat_id: ChatId, user_id: UserId | None = None, outbox: SharedOutbox | None = None
    ) -> Subscription:
        """A live stream of the chat's events, published from any node, from now on.

        With ``outbox``, into a user socket's outbox shared by its chats (as on the owner).
        Raises ``ClusterUnavailable`` if Redis is unreachable. Always pair with ``unsubscribe``.
        """
        listening = self._chats.get(chat_id)
        if listening is None:
            listening = self._chats[chat_id] = _Listening()
            try:
                await self._channels.listen(chat_channel(chat_id), partial(self._deliver, chat_id))
            except BaseException:
                listening.failed = True
                del self._chats[chat_id]
                raise
            finally:
                listening.ready.set()
        else:
            await listening.ready.wait()
            if listening.failed:
                return await self.subscribe(chat_id, user_id, outbox)
        subscription = Subscription.open(
            id=next(self._ids), user_id=user_id, replay=(), resync_required=False, latest_seq=0,
            queue_size=self.queue_size, outbox=outbox,
        )  # fmt: skip
        listening.fanout.add(subscription)
        return subscription

    async def unsubscribe(self, chat_id: ChatId, subscription: Subscription) -> None:
        """End the subscription; the last one on this node stops listening to the chat."""
        listening = self._chats.get(chat_id)
        if listening is None:
            subscription.end(EndReason.UNSUBSCRIBED)
            return
        listening.fanout.remove(subscription.id)
        if len(listening.fanout) == 0 and listening.ready.is_set():
            del self._chats[chat_id]
            self._lagged_before += listening.fanout.lagged_total
            await self._channels.unlisten(chat_channel(chat_id))

    def subscribers(self, chat_id: ChatId) -> int:
        listening = self._chats.get(chat_id)
        return 0 if listening is None else len(listening.fanout)

    def lagged_total(self) -> int:
        """Subscribers dropped for falling behind, since start."""
        live = sum(listening.fanout.lagged_total for listening in self._chats.values())
        return self._lagged_before + live

    def _deliver(self, chat_id: ChatId, data: bytes) -> None:
        listening = self._chats.get(chat_id)
        if listening is None:
            return
        try:
            event = codec.decode_event(data)
        except codec.UndecodableMessage:
            self.undecodable += 1
            log.warning("chat %s: undecodable event on the bus", chat_id)
            return
        self.received += 1
        listening.fanout.publish(event)
