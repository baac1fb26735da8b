"""The OpenAPI document is valid: it passes a validator, and every $ref resolves (issue 12, 5)."""

from __future__ import annotations

import json
import re
from typing import Any

from openapi_spec_validator import validate
from quart.typing import TestClientProtocol as Client


async def _document(client: Client) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = await response.get_json()
    return document


async def test_the_document_passes_an_openapi_validator(client: Client) -> None:
    validate(await _document(client))


async def test_every_ref_resolves(client: Client) -> None:
    document = await _document(client)
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(document)))
    assert {"MessageOut", "MessageType", "PresenceStatus"} <= refs
    assert refs <= set(document["components"]["schemas"])


async def test_responses_name_only_media_types_as_content(client: Client) -> None:
    document = await _document(client)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                for media_type in response.get("content", {}):
                    assert re.fullmatch(r"[a-z*]+/[a-z0-9.+*-]+", media_type), (
                        method,
                        path,
                        status,
                        media_type,
                    )
    served = document["paths"]["/media/{media_id}"]["get"]["responses"]["200"]
    assert set(served["content"]) == {"image/*", "audio/*"}
    assert "etag" in served["headers"]
