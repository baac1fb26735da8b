"""OwnerWatch: notices that a node this node's sockets are registered at has died.

A socket here in a chat another node owns is registered at that owner (``SocketRegistrations``).
When the owner changes, the new one announces itself and the socket is registered there. But
a chat is activated again only when something uses it: if its owner dies while its users are
only reading, nobody would ever take it over, so their presence there would die with it, and
the users whose sockets died with the owner would stay online for everyone.

So every ``interval_s`` this node asks Redis (``liveness.py``, one round trip) whether the
nodes its sockets are registered at still listen; the sockets registered at a node that is
gone are registered again, which takes the chat over (here, by preference) once the dead
owner's lease has expired. The new owner's catch-up (``Handover``) does the rest.
"""

from __future__ import annotations

import contextlib
import logging

import attrs
import trio

from chatactors.cluster.liveness import gone_nodes
from chatactors.cluster.redis import RedisLink
from chatactors.cluster.socket_registrations import SocketRegistrations
from chatactors.domain.errors import ChatError

log = logging.getLogger(__name__)


@attrs.frozen
class OwnerWatchStatistics:
    #: Owners' nodes found gone, since start.
    owners_gone: int


@attrs.define(eq=False)
class OwnerWatch:
    _link: RedisLink
    _sockets: SocketRegistrations
    interval_s: float
    _owners_gone: int = 0

    def statistics(self) -> OwnerWatchStatistics:
        return OwnerWatchStatistics(self._owners_gone)

    async def run(self) -> None:
        while True:
            await trio.sleep(self.interval_s)
            with contextlib.suppress(ChatError):  # Redis unreachable: next round
                await self.check()

    async def check(self) -> None:
        """Register again the sockets registered at nodes that are gone."""
        gone = await gone_nodes(self._link, self._sockets.owner_nodes())
        if gone:
            self._owners_gone += len(gone)
            log.info("owner nodes gone: %s; their chats' sockets here register again",
                     ", ".join(sorted(gone)))  # fmt: skip
            self._sockets.owners_gone(gone)
