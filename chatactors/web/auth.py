"""Access control (off by default, so reference clients keep working; on with ``auth_enabled``).

A bearer token is a JWT signed with HS256 and the server's secret, whose ``sub`` is the user id.
HTTP requests carry it as ``Authorization: Bearer <token>``, WebSockets as ``?token=<token>``
(browsers cannot set headers on a WebSocket). With access control on, a user acts only as
themself, reads only chats they take part in, and subscribes only to their own chats; no token
acts as ``bot_user`` (the one check is in :func:`verify_token`, which HTTP and sockets share).
"""

from __future__ import annotations

import time

import jwt
from quart import Quart, Response, g, request

from chatactors.domain.errors import ChatError, Forbidden, InvalidInput, Unauthenticated
from chatactors.domain.ids import BOT_USER, UserId
from chatactors.domain.rules import Limits, check_user_id
from chatactors.settings import Settings
from chatactors.web.error_responses import error_response

ALGORITHM = "HS256"
#: Paths anyone may fetch: the web client, health checks, metrics, the API document, and
#: media files (an <img> or <audio> element cannot send a bearer token).
PUBLIC_PREFIXES = ("/static/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/media/")


def issue_token(secret: str, user_id: str, *, ttl_s: float, now: float | None = None) -> str:
    issued = time.time() if now is None else now
    claims = {"sub": user_id, "iat": int(issued), "exp": int(issued + ttl_s)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str, limits: Limits) -> UserId:
    """The token's user id. Raises ``Unauthenticated`` if it is missing, forged or expired, or
    names no valid user (an empty, blank or too long ``sub``, or ``bot_user``)."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]}
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("The token has expired") from None
    except jwt.PyJWTError as error:
        raise Unauthenticated(f"Invalid token: {error}") from None
    subject = claims["sub"]
    if not isinstance(subject, str):
        raise Unauthenticated("Invalid token: 'sub' must be a string")
    if subject == BOT_USER:
        # Every chat has bot_user: its token would read, post and subscribe everywhere. Only the
        # server's own bot acts as bot_user, and it needs no token (it talks to chats directly).
        raise Unauthenticated(f"Invalid token: no token may act as {BOT_USER}")
    try:
        return check_user_id(subject, limits, field="token subject")
    except InvalidInput as error:
        # A signed token for no valid user is still not a credential: 401 (4401 on a socket),
        # never the 422 (4422) of a bad query parameter.
        raise Unauthenticated(f"Invalid token: {error}") from None


def authenticated_user() -> UserId | None:
    """Who made this request, or None when access control is off."""
    user: UserId | None = g.get("user_id")
    return user


def acting_as(claimed: UserId) -> UserId:
    """The user a write acts as: with access control on, only the token's subject."""
    user = authenticated_user()
    if user is not None and user != claimed:
        raise Forbidden(f"You are signed in as {user!r} and cannot act as {claimed!r}")
    return claimed


def is_public(method: str, path: str) -> bool:
    """Whether anyone may fetch ``path`` without a token (uploads aside: they need one)."""
    if method == "OPTIONS" or path == "/":
        return True
    return path.startswith(PUBLIC_PREFIXES) and not (path.startswith("/media") and method == "POST")


def install_auth(app: Quart, settings: Settings) -> None:
    if not settings.auth_enabled:
        return
    if len(settings.auth_secret) < 32:
        raise ValueError("auth_enabled needs an auth_secret of at least 32 characters")

    @app.before_request
    async def require_token() -> Response | None:
        if is_public(request.method, request.path):
            return None
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        try:
            if scheme.lower() != "bearer" or not token:
                raise Unauthenticated("Missing bearer token (Authorization: Bearer <token>)")
            g.user_id = verify_token(settings.auth_secret, token.strip(), settings.limits)
        except ChatError as error:
            response = error_response(401, str(error))
            response.headers["WWW-Authenticate"] = 'Bearer realm="chatactors"'
            return response
        return None
