"""RemoteSubscribers: the sockets other nodes registered at this node's actors, by node.

A socket on node B counts for presence in a chat node A owns (its ``Subscribe(remote=True)``
was forwarded here). If B dies, its sockets never unsubscribe; so this node asks Redis, every
``interval_s``, which of those nodes still listen (``liveness.py``), and unsubscribes the sockets
of the nodes that are gone: their users go offline as if they had closed their sockets.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import attrs
import trio

from chatactors.actors.commands import Command, Subscribe, Unsubscribe
from chatactors.actors.mailbox import Mailbox
from chatactors.actors.subscription import Subscription
from chatactors.actors.subscription_id import SubscriptionId
from chatactors.cluster.liveness import gone_nodes
from chatactors.cluster.redis import RedisLink, RedisReplyError
from chatactors.domain.errors import ChatError
from chatactors.domain.ids import ChatId

log = logging.getLogger(__name__)


@attrs.frozen
class RemoteSubscribersStatistics:
    #: Other nodes with sockets registered here now, and those sockets.
    nodes: int
    sockets: int
    #: Sockets unsubscribed because their node was gone.
    swept: int


@attrs.define(eq=False)
class RemoteSubscribers:
    _mailbox: Mailbox
    _link: RedisLink
    interval_s: float
    _by_node: dict[str, set[tuple[ChatId, SubscriptionId]]] = attrs.field(factory=dict)
    _swept: int = 0

    def statistics(self) -> RemoteSubscribersStatistics:
        return RemoteSubscribersStatistics(
            nodes=len(self._by_node),
            sockets=sum(len(sockets) for sockets in self._by_node.values()),
            swept=self._swept,
        )

    def answered(self, node_id: str, chat_id: ChatId, command: Command[Any], value: Any) -> None:
        """Note a forwarded command's successful answer (registrations come and go)."""
        if isinstance(command, Subscribe) and isinstance(value, Subscription):
            self._by_node.setdefault(node_id, set()).add((chat_id, value.id))
        elif isinstance(command, Unsubscribe):
            registered = self._by_node.get(node_id)
            if registered is not None:
                registered.discard((chat_id, command.subscription_id))
                if not registered:
                    del self._by_node[node_id]

    async def run(self) -> None:
        while True:
            await trio.sleep(self.interval_s)
            if self._by_node:
                try:
                    await self.sweep()
                except ChatError:
                    pass  # Redis unreachable: next round
                except RedisReplyError as error:  # (an ACL without PUBSUB, say)
                    log.error("other nodes' sockets not checked: Redis refused: %s", error)

    async def sweep(self) -> None:
        """Unsubscribe every socket of every node no longer listening."""
        for node in await gone_nodes(self._link, list(self._by_node)):
            await self._forget_node(node)

    async def _forget_node(self, node: str) -> None:
        registered = self._by_node.pop(node, set())
        log.info("node %s is gone: %d of its sockets unsubscribed", node, len(registered))
        for chat_id, subscription_id in registered:
            self._swept += 1
            with contextlib.suppress(ChatError):
                await (await self._mailbox.submit(chat_id, Unsubscribe(subscription_id))).wait()
