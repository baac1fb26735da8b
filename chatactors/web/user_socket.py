"""WS /ws: one socket per user, carrying the events of every chat the user belongs to.

The user is ``?user_id=`` (access control off) or the token's subject (on). The socket speaks
``chatactors.v1`` with each event naming its chat (docs/API.md, "One socket per user"); the
session itself is web/user_session.py. Like ``/ws/{chat_id}`` it is served straight over ASGI
(web/asgi.py routes it).
"""

from __future__ import annotations

import trio

from chatactors.actors.subscription import EndReason
from chatactors.domain.errors import ChatError, InvalidInput
from chatactors.domain.ids import UserId
from chatactors.web.chat_socket import SUBPROTOCOL_V1, close_socket, socket_user
from chatactors.web.error_responses import CLOSE_FOR_END, CLOSE_TRY_AGAIN_LATER, close_code_for
from chatactors.web.services import Services
from chatactors.web.socket_transport import SocketDisconnected, SocketTransport
from chatactors.web.user_session import UserSession


async def serve_user_socket(socket: SocketTransport, context: Services) -> None:
    """The whole life of one user socket: identify, subscribe to the user's chats, pump, leave."""
    metrics = context.metrics
    timeout_s = context.settings.ws_close_timeout_s
    # Browsers fail a handshake that picks a subprotocol they did not offer; a client that
    # offers none still gets the same frames.
    subprotocol = SUBPROTOCOL_V1 if SUBPROTOCOL_V1 in socket.subprotocols else None
    reason: EndReason | None = None
    try:
        # Accept first, then close with a code the browser can see (a refused handshake: 1006).
        await socket.accept(subprotocol)
        try:
            user_id = socket_user(socket, context.settings)
            if user_id is None:
                raise InvalidInput("/ws needs ?user_id= (or, with access control, ?token=)")
        except ChatError as error:
            metrics.disconnects.labels("refused").inc()
            await close_socket(socket, close_code_for(error), str(error), timeout_s)
            return
        metrics.connections.inc()
        try:
            reason = await _run_session(socket, context, user_id, v1=subprotocol is not None)
        except ChatError as error:
            await close_socket(socket, close_code_for(error), str(error), timeout_s)
        except trio.TooSlowError:
            await close_socket(socket, CLOSE_TRY_AGAIN_LATER, "overloaded", timeout_s)
        else:
            if reason is not None:
                await close_socket(socket, CLOSE_FOR_END[reason], reason.value, timeout_s)
        finally:
            metrics.connections.dec()
            metrics.disconnects.labels(reason.value if reason else "client").inc()
    except SocketDisconnected:
        pass


async def _run_session(
    socket: SocketTransport, context: Services, user_id: UserId, *, v1: bool
) -> EndReason | None:
    session = UserSession(socket, context, user_id, v1=v1)
    feeds = context.registry.user_feeds
    # The feed opens before the chats are listed: a chat created meanwhile is not missed.
    with feeds.open_feed(user_id, session.outbox_send.send_nowait, session.ended):
        try:
            return await session.run()
        finally:
            await session.close()
