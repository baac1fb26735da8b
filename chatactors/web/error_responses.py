"""One table from failures to HTTP answers (``{"detail": ...}``) and WebSocket close codes."""

from __future__ import annotations

import logging
import math

import trio
from quart import Quart, Response
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from chatactors.actors.subscription import EndReason
from chatactors.domain.errors import (
    ChatError,
    ChatNotFound,
    ChatUnavailable,
    Forbidden,
    InvalidInput,
    MessageDeleted,
    MessageNotFound,
    NotAParticipant,
    NotTheAdmin,
    NotTheAuthor,
    OutcomeUnknown,
    Overloaded,
    ParticipantNotFound,
    RateLimited,
    ServerShuttingDown,
    StoreUnavailable,
    Unauthenticated,
)
from chatactors.settings import Settings
from chatactors.web.wire import json_response

log = logging.getLogger(__name__)

_STATUS: dict[type[ChatError], int] = {
    ChatNotFound: 404,
    MessageNotFound: 404,
    ParticipantNotFound: 404,
    NotAParticipant: 403,
    NotTheAuthor: 403,
    NotTheAdmin: 403,
    # A well-formed request that the message's state refuses (it is deleted): a conflict.
    MessageDeleted: 409,
    Forbidden: 403,
    Unauthenticated: 401,
    RateLimited: 429,
    InvalidInput: 422,
    Overloaded: 503,
    ChatUnavailable: 503,
    StoreUnavailable: 503,
    # Sent to the store, never confirmed: it may have happened. 503 would say it did not.
    OutcomeUnknown: 504,
}

#: WebSocket close codes. Clients of the reference reconnect on anything but 1000. The 4xxx
#: codes are 4000 + the HTTP status REST answers for the same condition; the 1xxx ones are
#: RFC 6455's (and IANA's registry of them), each for what it says, so that a client reading
#: only the code knows whether to reconnect, when, and whether it is a server bug:
CLOSE_NORMAL = 1000
#: This server is shutting down: reconnect (to another server, or this one once restarted).
CLOSE_GOING_AWAY = 1001
#: A server bug (an actor crashed), and only that.
CLOSE_INTERNAL_ERROR = 1011
#: Service Restart: the chat this socket followed stopped here because it moved (cluster mode:
#: the node lost the chat's lease) and is served by its next activation, which the client
#: reaches by reconnecting now (with a little jitter) and resuming by seq. The service (the chat)
#: restarts; the server is not going away (1001) and nothing is known to be down (1013).
CLOSE_SERVICE_RESTART = 1012
#: Try again later: the chat, or a dependency (the store, Redis), is unavailable or overloaded
#: for now (REST answers 503 with Retry-After): reconnect after a backoff.
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_LAGGED = 4008
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_INVALID = 4422
CLOSE_UNAUTHORIZED = 4401

_CLOSE_FOR_ERROR: dict[type[ChatError], int] = {
    ChatNotFound: CLOSE_NOT_FOUND,
    NotAParticipant: CLOSE_FORBIDDEN,
    Forbidden: CLOSE_FORBIDDEN,
    Unauthenticated: CLOSE_UNAUTHORIZED,
    InvalidInput: CLOSE_INVALID,
    Overloaded: CLOSE_TRY_AGAIN_LATER,
    # Before ChatUnavailable, its base: the first match wins.
    ServerShuttingDown: CLOSE_GOING_AWAY,
    # Unavailable for now (a crashed actor's backoff, Redis unreachable, a lost lease, a node
    # that did not answer): the request did not run, retry; the bug, if any, was logged where
    # it happened.
    ChatUnavailable: CLOSE_TRY_AGAIN_LATER,
    StoreUnavailable: CLOSE_TRY_AGAIN_LATER,
    OutcomeUnknown: CLOSE_TRY_AGAIN_LATER,
}

CLOSE_FOR_END: dict[EndReason, int] = {
    EndReason.LAGGED: CLOSE_LAGGED,
    EndReason.SHUTDOWN: CLOSE_GOING_AWAY,
    EndReason.MOVED: CLOSE_SERVICE_RESTART,
    EndReason.UNAVAILABLE: CLOSE_TRY_AGAIN_LATER,
    EndReason.CRASHED: CLOSE_INTERNAL_ERROR,
    EndReason.UNSUBSCRIBED: CLOSE_NORMAL,
    # Removed from the chat (or left it): access ends, as for a user who never was in it.
    EndReason.REMOVED: CLOSE_FORBIDDEN,
    EndReason.RELOADED: CLOSE_SERVICE_RESTART,
}


def status_for(error: ChatError) -> int:
    return next((s for kind, s in _STATUS.items() if isinstance(error, kind)), 400)


def close_code_for(error: ChatError) -> int:
    return next(
        (c for kind, c in _CLOSE_FOR_ERROR.items() if isinstance(error, kind)), CLOSE_INVALID
    )


TOO_SLOW_DETAIL = "The chat did not answer in time; retry shortly"
INTERNAL_ERROR_DETAIL = "Internal server error"


def too_large_detail(limit: int | None) -> str:
    return f"The request body is larger than the limit of {limit} bytes"


def error_headers(status: int, retry_after_s: float | None = None) -> dict[str, str]:
    """Retry-After on 429, 503 and 504 (given ``retry_after_s``), so that clients back off."""
    if status in (429, 503, 504) and retry_after_s is not None:
        return {"Retry-After": str(max(1, math.ceil(retry_after_s)))}
    return {}


def error_response(status: int, detail: str, *, retry_after_s: float | None = None) -> Response:
    return json_response({"detail": detail}, status, error_headers(status, retry_after_s) or None)


def register_error_handlers(app: Quart, settings: Settings) -> None:
    @app.errorhandler(ChatError)
    async def chat_error(error: ChatError) -> Response:
        retry_after = error.retry_after_s if isinstance(error, RateLimited) else None
        retry_after = retry_after or settings.retry_after_s
        response = error_response(status_for(error), str(error), retry_after_s=retry_after)
        if isinstance(error, Unauthenticated):
            response.headers["WWW-Authenticate"] = 'Bearer realm="chatactors"'
        return response

    @app.errorhandler(trio.TooSlowError)
    async def too_slow(error: trio.TooSlowError) -> Response:
        return error_response(503, TOO_SLOW_DETAIL, retry_after_s=settings.retry_after_s)

    @app.errorhandler(RequestEntityTooLarge)
    async def too_large(error: RequestEntityTooLarge) -> Response:
        limit = app.config.get("MAX_CONTENT_LENGTH")
        return error_response(413, too_large_detail(limit))

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        return error_response(error.code or 500, error.description or error.name)

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> Response:
        log.exception("unhandled error", exc_info=error)
        return error_response(500, INTERNAL_ERROR_DETAIL)
