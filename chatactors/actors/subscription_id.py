"""SubscriptionId: what names one subscription to a chat, and which kind it is.

A socket unsubscribes with the id it was given, and in cluster mode that id may reach a mailbox
that must tell three kinds apart, each numbered on its own:

- ``LOCAL``: a subscriber of an actor in this process (a socket here, the bot);
- ``REMOTE``: a socket on another node, registered at this chat's actor (cluster mode: it
  counts for presence and keeps the chat alive; its events reach it through the bus). Its id
  also names the activation that registered it (``owner_token``, the store's token of that
  activation), so that its ``Unsubscribe``, should it reach a later activation of the chat,
  unsubscribes nobody there, and so that its node can tell an earlier owner's registrations
  from the current one's;
- ``BUS``: a socket of this node listening on the chat's bus channel (cluster mode), for a
  chat another node owns.
"""

from __future__ import annotations

import enum

import attrs


class SubscriberKind(enum.Enum):
    LOCAL = "local"
    REMOTE = "remote"
    BUS = "bus"


@attrs.frozen
class SubscriptionId:
    #: Unique among the ids of its kind given out by one actor (or one node's bus).
    number: int
    kind: SubscriberKind = SubscriberKind.LOCAL
    #: ``REMOTE``: the owner token of the activation that registered it; 0 otherwise.
    owner_token: int = 0

    @classmethod
    def local(cls, number: int) -> SubscriptionId:
        return cls(number)

    @classmethod
    def remote(cls, number: int, owner_token: int) -> SubscriptionId:
        return cls(number, SubscriberKind.REMOTE, owner_token)

    @classmethod
    def bus(cls, number: int) -> SubscriptionId:
        return cls(number, SubscriberKind.BUS)
