"""ChatPolicy: the limits and delays a chat's state (ChatState) applies, and nothing else.

The registry makes it once from ``Settings`` (where every default is), so the sans-IO core
depends on these few numbers, not on the whole configuration and how it is read.
"""

from __future__ import annotations

import attrs

from chatactors.domain.rules import Limits


@attrs.frozen(kw_only=True)
class ChatPolicy:
    #: Ids, participants, titles and content: checked on every change.
    limits: Limits
    #: Recent messages held in memory; older ones are read from the store.
    history_window: int
    #: Recent ``client_message_id`` values per chat: a retried send is not sent twice.
    idempotency_window: int
    #: Messages replayed to a socket that resumes; further behind, it must resync.
    max_replay: int
    #: Distinct reaction emoji on one message.
    max_reaction_keys: int
    #: Typing falls back to online after this.
    typing_timeout_s: float
    #: A user whose last socket closed goes offline this much later.
    presence_grace_s: float
