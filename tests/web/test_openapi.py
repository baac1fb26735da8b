"""The OpenAPI document: valid, every $ref resolves, every route of the API in it, made from the
wire types the routes decode, with this app's limits and access control (issue 12, 5; 26)."""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
from openapi_spec_validator import validate
from quart.typing import TestClientProtocol as Client

from chatactors.web.app import create_app
from chatactors.web.openapi import openapi_document
from chatactors.web.value_schemas import REF_TEMPLATE
from chatactors.web.wire import PostMessageBody
from tests.conftest import make_settings

#: Routes outside the API: the web client and its files, and the document itself (WebSockets
#: are served beside Quart, web/asgi.py, and OpenAPI does not describe them).
NOT_THE_API = {"/", "/static/<path:filename>", "/openapi.json"}


async def _document(client: Client) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    document: dict[str, Any] = await response.get_json()
    return document


async def test_the_document_passes_an_openapi_validator(client: Client) -> None:
    validate(await _document(client))


async def test_every_ref_resolves(client: Client) -> None:
    document = await _document(client)
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(document)))
    assert {"MessageOut", "MessageType", "PresenceStatus", "UserId", "Emoji"} <= refs
    assert refs <= set(document["components"]["schemas"])


def test_every_route_of_the_api_is_documented() -> None:
    app = create_app(make_settings())
    document = openapi_document(app, make_settings())
    documented = {
        (re.sub(r"\{([^}]+)\}", r"<\1>", path), method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    }
    routes = {
        (re.sub(r"<[^:>]+:", "<", rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule not in NOT_THE_API
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert documented == routes
    assert len(routes) >= 20


async def test_a_body_is_documented_by_the_type_it_is_decoded_into(client: Client) -> None:
    document = await _document(client)
    body = document["paths"]["/chats/{chat_id}/messages"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert schema == {"$ref": REF_TEMPLATE.format(name="PostMessageBody")}
    (_,), components = msgspec.json.schema_components([PostMessageBody], ref_template=REF_TEMPLATE)
    assert document["components"]["schemas"]["PostMessageBody"] == components["PostMessageBody"]
    assert set(components["PostMessageBody"]["required"]) == {"user_id", "type", "content"}


def test_the_limits_are_the_apps() -> None:
    settings = make_settings(max_id_length=40, max_content_chars=99, max_history_page=7)
    schemas = openapi_document(create_app(settings), settings)["components"]["schemas"]
    assert schemas["UserId"]["maxLength"] == 40
    assert schemas["Content"]["maxLength"] == 99
    assert schemas["PageLimit"] == {**schemas["PageLimit"], "minimum": 1, "maximum": 7}


def test_who_acts_is_required_in_the_query_only_without_access_control() -> None:
    def user_id_required(**overrides: Any) -> bool:
        settings = make_settings(**overrides)
        path = openapi_document(create_app(settings), settings)["paths"][
            "/chats/{chat_id}/messages/{message_id}"
        ]
        (user_id,) = (p for p in path["delete"]["parameters"] if p["name"] == "user_id")
        required: bool = user_id["required"]
        return required

    assert user_id_required()
    assert not user_id_required(auth_enabled=True, auth_secret="s" * 32)


def test_with_access_control_the_api_needs_a_bearer_token() -> None:
    settings = make_settings(auth_enabled=True, auth_secret="s" * 32)
    document = openapi_document(create_app(settings), settings)
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    create = document["paths"]["/chats"]["post"]
    assert create["security"] == [{"bearer": []}]
    assert "401" in create["responses"]
    served = document["paths"]["/media/{media_id}"]["get"]
    assert "security" not in served
    assert "401" not in served["responses"]
    validate(document)


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
    assert "ETag" in served["headers"]
    unavailable = document["paths"]["/chats"]["post"]["responses"]["503"]
    assert "Retry-After" in unavailable["headers"]


def test_search_requires_what_the_route_requires() -> None:
    """``q`` always; ``user_id`` without access control (with it, the token's user)."""

    def required(**overrides: Any) -> set[str]:
        settings = make_settings(**overrides)
        search = openapi_document(create_app(settings), settings)["paths"]["/search"]["get"]
        return {p["name"] for p in search["parameters"] if p["required"]}

    assert required() == {"q", "user_id"}
    assert required(auth_enabled=True, auth_secret="s" * 32) == {"q"}
