"""The ASGI app Hypercorn serves: sockets (``/ws/{id}``, and ``/ws`` for a user) over the raw
ASGI transport, in front of the Quart app, which serves every HTTP request.

Sockets are served here so that there are no Quart objects or tasks per socket
(web/chat_socket.py).
"""

from __future__ import annotations

import re

import attrs
from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, Scope
from quart_trio import QuartTrio

from chatactors.settings import Settings
from chatactors.web.chat_socket import serve_chat_socket
from chatactors.web.services import services_of
from chatactors.web.socket_transport import AsgiSocket
from chatactors.web.user_socket import serve_user_socket

SOCKET_PATH = re.compile(r"/ws/([^/]+)/?")
USER_SOCKET_PATH = re.compile(r"/ws/?")


@attrs.define(eq=False)
class FastPathApp:
    """The ASGI app Hypercorn serves: the socket route, then the Quart app for everything else."""

    quart: QuartTrio
    settings: Settings

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "websocket":
            match = SOCKET_PATH.fullmatch(scope["path"])
            running = services_of(self.quart)
            if match and running is not None:
                await serve_chat_socket(AsgiSocket(scope, receive, send), running, match.group(1))
                return
            if running is not None and USER_SOCKET_PATH.fullmatch(scope["path"]):
                await serve_user_socket(AsgiSocket(scope, receive, send), running)
                return
        await self.quart(scope, receive, send)
