"""The request class: JSON bodies are parsed whatever their Content-Type, and bad JSON is a 422.

The reference answers malformed JSON with 422, and ``fetch`` without headers sends JSON as
``text/plain``; both are kept working here.
"""

from __future__ import annotations

from typing import Any, NoReturn

from quart_trio.wrappers import TrioRequest

from chatactors.domain.errors import InvalidInput


class ChatRequest(TrioRequest):
    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        return await super().get_json(force=True, silent=silent, cache=cache)

    def on_json_loading_failed(self, error: Exception) -> NoReturn:
        raise InvalidInput(f"The request body is not valid JSON: {error}")
