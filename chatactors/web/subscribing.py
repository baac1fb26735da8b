"""A socket's subscription to a chat, retried while the chat is unavailable for a moment.

In cluster mode a chat whose node died is unavailable until its lease expires and another node
takes it (``lease_ttl_s``, shorter than the command timeout); a crashed actor restarts after
``crash_backoff_s``. A socket that opens meanwhile waits for that, within
``command_timeout_s``, and gets in once the chat is served again, instead of being refused
(1013) and having its client reconnect until it opens. Both kinds of socket subscribe this way
(``/ws/<chat_id>`` and each chat of ``/ws``).
"""

from __future__ import annotations

from collections.abc import Callable

import trio

from chatactors.actors.handle import ChatHandle
from chatactors.actors.subscription import SharedOutbox, Subscription
from chatactors.domain.errors import ChatUnavailable, ServerShuttingDown
from chatactors.domain.ids import UserId

#: The first pause after an unavailable chat, doubling up to the max.
RETRY_FIRST_DELAY_S = 0.05
RETRY_MAX_DELAY_S = 0.5


async def subscribe_retrying(
    handle: ChatHandle,
    user_id: UserId | None,
    after_seq: int | None,
    outbox: SharedOutbox | None = None,
    *,
    after_pos: int | None = None,
    timeout_s: float,
    stopping: Callable[[], bool],
) -> Subscription:
    """``handle.subscribe``, retried on ``ChatUnavailable`` until ``timeout_s`` (then the last
    error, or ``trio.TooSlowError`` if a try was cut short). Not retried while the server is
    ``stopping``. Raises ``ChatError``."""
    deadline = trio.current_time() + timeout_s
    delay_s = RETRY_FIRST_DELAY_S
    while True:
        try:
            with trio.fail_at(deadline):
                return await handle.subscribe(user_id, after_seq, outbox, after_pos=after_pos)
        except ChatUnavailable as error:
            last_try = trio.current_time() + delay_s >= deadline
            if isinstance(error, ServerShuttingDown) or stopping() or last_try:
                raise
            await trio.sleep(delay_s)
            delay_s = min(2 * delay_s, RETRY_MAX_DELAY_S)
