"""Which nodes are gone: a node listens on its command channel for as long as it lives.

A node SIGKILLed (or cut off) loses its Pub/Sub connection, and Redis drops its subscriptions
at once, so ``PUBSUB NUMSUB`` on the nodes' command channels tells, in one round trip for any
number of nodes, which of them are gone. (A node whose Pub/Sub connection is being made again
looks gone for that moment: callers must only act in ways that a live node survives.)
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from chatactors.cluster.forwarder import command_channel
from chatactors.cluster.redis import RedisLink


async def gone_nodes(link: RedisLink, nodes: Collection[str]) -> set[str]:
    """The nodes among ``nodes`` that listen no more. Raises ``ClusterUnavailable``."""
    if not nodes:
        return set()
    channels = {command_channel(node): node for node in nodes}
    listening = await link.execute("PUBSUB", "NUMSUB", *channels)
    counts = {_text(channel): int(count) for channel, count in _pairs(listening)}
    return {node for channel, node in channels.items() if counts.get(channel, 0) == 0}


def _pairs(flat: list[Any]) -> zip[tuple[Any, Any]]:
    return zip(flat[::2], flat[1::2], strict=True)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
