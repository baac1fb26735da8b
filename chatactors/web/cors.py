"""CORS as the reference does it by default: any origin reflected, credentials allowed."""

from __future__ import annotations

import attrs
from quart import Quart, Response, request

_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD"


@attrs.frozen
class CorsPolicy:
    allowed: frozenset[str]

    @classmethod
    def parse(cls, origins: str) -> CorsPolicy:
        """``origins`` is ``*`` or a comma-separated list of allowed origins."""
        return cls(frozenset(o.strip() for o in origins.split(",") if o.strip()))

    def allows(self, origin: str | None) -> bool:
        return origin is not None and ("*" in self.allowed or origin in self.allowed)

    def simple_headers(self, origin: str) -> list[tuple[str, str]]:
        """The headers of an answer to an allowed origin (not a preflight)."""
        return [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Credentials", "true"),
        ]


def install_cors(app: Quart, origins: str) -> None:
    policy = CorsPolicy.parse(origins)

    @app.after_request
    async def add_cors_headers(response: Response) -> Response:
        origin = request.headers.get("Origin")
        if origin is None or not policy.allows(origin):
            return response
        for name, value in policy.simple_headers(origin):
            response.headers[name] = value
        response.vary.add("Origin")
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response.headers["Access-Control-Allow-Methods"] = _METHODS
            requested = request.headers.get("Access-Control-Request-Headers")
            if requested:
                response.headers["Access-Control-Allow-Headers"] = requested
            response.headers["Access-Control-Max-Age"] = "600"
        return response
