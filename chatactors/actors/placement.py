"""Placement: where a chat's actor may run, when more than one process serves the chats.

In one process there is nothing to decide and the registry has no placement. In cluster mode
(``chatactors.cluster``) a chat's actor may run only on the node that holds the chat's lease: the
registry asks its :class:`Placement` to ``activate`` the chat before loading it, runs the
:class:`Activation` beside the actor while it lives, and stops the actor when ``keep`` returns
(the lease was lost). These protocols are all ``actors`` knows of the cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import attrs

from chatactors.domain.errors import ChatUnavailable
from chatactors.domain.events import ChatEvent
from chatactors.domain.ids import ChatId, UserId
from chatactors.domain.models import PresenceStatus


@attrs.frozen
class Handover:
    """What a chat's new activation takes over from the one before it (which may have died).

    ``presence``: the users other processes were last told are online (or typing). The new
    actor starts with them so, not offline, each in a grace of ``catch_up_s`` (at least the
    presence grace): the sockets other processes still hold register again meanwhile and end
    it silently, and users whose sockets died with the old owner go offline when it runs out.
    """

    presence: Mapping[UserId, PresenceStatus] = attrs.field(factory=dict)
    catch_up_s: float = 0.0


class Activation(Protocol):
    """One activation's claim on its chat beyond this process."""

    def is_valid(self) -> bool:
        """Whether this process may still act as the chat's owner."""
        ...

    def publish(self, event: ChatEvent) -> None:
        """Send an event to the chat's subscribers in other processes; never blocks."""
        ...

    def handover(self) -> Handover:
        """What the chat's previous activation left for this one (read when it was made)."""
        ...

    def started(self, owner_token: int) -> None:
        """The actor is loaded, with the store's ``owner_token``; tell other processes who
        owns the chat now (once ``keep`` runs; never blocks)."""
        ...

    async def keep(self) -> ChatUnavailable:
        """Hold the claim while the actor lives; return, once it is lost, the error its
        pending callers get (they retry and reach the new owner)."""
        ...

    async def release(self) -> None:
        """Deliver what was published, then give the chat up (the actor stopped); ``keep``
        then returns. A second call does nothing."""
        ...


class Placement(Protocol):
    async def activate(self, chat_id: ChatId) -> Activation:
        """Claim the chat for an actor in this process. Raises ``ChatUnavailable`` if another
        process holds it or the claim cannot be made now (callers retry)."""
        ...
