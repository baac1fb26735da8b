"""The web client at ``/`` and its files at ``/static/...``, and the bot's bundled media."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from quart import Blueprint, Response, send_from_directory
from werkzeug.exceptions import NotFound

from chatactors.web import media_serving
from chatactors.web.operations import operation

blueprint = Blueprint("static_files", __name__)

PACKAGE = Path(str(resources.files("chatactors")))
STATIC_DIR = PACKAGE / "web" / "static"

#: The web client runs under this policy (no inline script or style; media from anywhere,
#: since message contents are URLs the sender chose).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob: http: https:; media-src 'self' data: blob: http: https:; "
    "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def _harden(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@blueprint.get("/")
async def web_client() -> Response:
    if not (STATIC_DIR / "index.html").is_file():
        raise NotFound("The web client is not installed")
    response = await send_from_directory(STATIC_DIR, "index.html")
    response.cache_control.no_cache = True
    return _harden(response)


@blueprint.get("/static/<path:filename>")
async def static_file(filename: str) -> Response:
    try:
        response = await send_from_directory(STATIC_DIR, filename)
    except OSError:
        # A name the file system refuses (too long: ENAMETOOLONG) names no file here either.
        raise NotFound() from None
    response.cache_control.no_cache = True
    return _harden(response)


@blueprint.get("/assets/bot/<name>")
@operation(
    media_serving.SERVED_FILE,
    answers={
        304: media_serving.NOT_MODIFIED,
        404: "No such bot asset.",
        416: "The range is not satisfiable.",
    },
)
async def bot_asset(name: str) -> Response:
    # Older messages name the bot's files here; they are served from the media store.
    return await media_serving.serve_bot_asset(name)
