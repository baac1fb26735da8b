"""CORS as the reference does it by default: any origin reflected, credentials allowed."""

from __future__ import annotations

from quart import Quart, Response, request

_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD"


def install_cors(app: Quart, origins: str) -> None:
    """``origins`` is ``*`` or a comma-separated list of allowed origins."""
    allowed = {o.strip() for o in origins.split(",") if o.strip()}
    allow_any = "*" in allowed

    @app.after_request
    async def add_cors_headers(response: Response) -> Response:
        origin = request.headers.get("Origin")
        if origin is None or not (allow_any or origin in allowed):
            return response
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.vary.add("Origin")
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response.headers["Access-Control-Allow-Methods"] = _METHODS
            requested = request.headers.get("Access-Control-Request-Headers")
            if requested:
                response.headers["Access-Control-Allow-Headers"] = requested
            response.headers["Access-Control-Max-Age"] = "600"
        return response
