"""The ASGI app Hypercorn serves: chat and user sockets over raw ASGI, everything else to Quart.

A chat socket (``/ws/<chat_id>``) is served by web/chat_socket.py, a user's socket (``/ws``) by
web/user_socket.py, straight over the ASGI
events (web/socket_transport.py): no Quart request context, objects or tasks per socket, which
is most of a socket's memory and a share of each frame's CPU. That is the only WebSocket path;
every other scope (HTTP, lifespan, unknown socket paths) goes to the HTTP app.
"""

from __future__ import annotations

import attrs
from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, Scope
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, MapAdapter, Rule

from chatactors.web.chat_socket import refuse_chat_socket, serve_chat_socket
from chatactors.web.services import services_of
from chatactors.web.socket_transport import AsgiSocket
from chatactors.web.user_socket import serve_user_socket

#: Werkzeug's routing, as Quart's: ``<chat_id>`` is one path segment, a trailing slash allowed.
SOCKET_ROUTES = Map([Rule("/ws/<chat_id>", endpoint="chat_socket", websocket=True),
                     Rule("/ws", endpoint="user_socket", websocket=True)],
                    strict_slashes=False)  # fmt: skip


@attrs.define(eq=False)
class ChatServer:
    """Routes each ASGI scope: chat sockets to the socket handler, the rest to Quart."""

    quart: QuartTrio
    _routes: MapAdapter = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        # Matched on the path alone: the host plays no part in routing.
        self._routes = SOCKET_ROUTES.bind("chatactors", url_scheme="ws")

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "websocket":
            try:
                endpoint, args = self._routes.match(scope["path"], websocket=True)
            except HTTPException:
                pass  # not a chat socket: the HTTP app answers (a 404 handshake refusal)
            else:
                socket = AsgiSocket(scope, receive, send)
                running = services_of(self.quart)
                if running is None:
                    await refuse_chat_socket(socket)
                elif endpoint == "user_socket":
                    await serve_user_socket(socket, running)
                else:
                    await serve_chat_socket(socket, running, args["chat_id"])
                return
        await self.quart(scope, receive, send)
