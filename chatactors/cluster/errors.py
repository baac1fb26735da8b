"""What can go wrong in cluster mode, as errors the web layer already knows how to answer."""

from __future__ import annotations

from chatactors.cluster.redis.errors import RedisUnavailable
from chatactors.cluster.redis.errors import single_errors as single_errors
from chatactors.domain.errors import ChatUnavailable

#: What a client is told to wait before retrying while Redis is unreachable.
REDIS_RETRY_AFTER_S = 2.0


class ClusterUnavailable(ChatUnavailable, RedisUnavailable):
    """Redis did not answer in time, refused, or is failing over: the operation did not
    complete (as far as anyone knows); retry.

    A ``ChatUnavailable``, so the web layer answers 503 with ``Retry-After`` (``retry_after_s``);
    the node's Redis link raises it (``RedisLink.unavailable``), with the cause chained.
    """

    def __init__(self, detail: str = "The cluster directory is unreachable; retry shortly") -> None:
        super().__init__(detail)
        self.retry_after_s = REDIS_RETRY_AFTER_S


class LeaseLost(ChatUnavailable):
    """This node no longer holds the chat's lease: its actor must stop and callers retry."""

    def __init__(self, chat_id: str, reason: str) -> None:
        super().__init__(f"Chat {chat_id!r} moved or its lease expired ({reason}); retry shortly")
        self.chat_id = chat_id
        self.reason = reason


class ChatElsewhere(ChatUnavailable):
    """Activating a chat found another node holding it (it got there first): callers are
    forwarded there (``ClusterMailbox``, or the ``Forwarder`` when a forwarded command reached
    a node that no longer holds the chat: the command did not run), or get 503 and retry."""

    def __init__(self, chat_id: str, node_id: str, token: int = 0) -> None:
        super().__init__(f"Chat {chat_id!r} is active on node {node_id!r}; retry")
        self.node_id = node_id
        #: The holder's lease token (orders what the holder cache learns).
        self.token = token
