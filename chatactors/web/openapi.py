"""The OpenAPI document at /openapi.json, made valid where quart-schema leaves it broken.

quart-schema (with msgspec models) keeps only the first named type's schema and drops the types
it refers to, so ``$ref``s to ``MessageOut``, ``MessageType`` and ``PresenceStatus`` (or, from a
query string, ``SearchOrder``) dangled and
``list[MessageOut]`` was documented as one object; and it puts a response's headers under
``content``, as if "headers" were a media type. This provider
(quart-schema's documented extension point) adds every referenced type to
``components.schemas``, moves headers where OpenAPI wants them, and lets a response model name
its own media types (files are not JSON); an operation with no documented answer gets a
``default`` one, since OpenAPI requires one.
"""

from __future__ import annotations

import typing
from typing import Any

import msgspec
from quart_schema import DataSource, OpenAPIProvider

#: Where quart-schema's msgspec schemas point their $refs.
REF_TEMPLATE = "#/components/schemas/{name}"
#: A response model may carry its content as this class attribute (media types -> objects).
CONTENT_ATTRIBUTE = "openapi_content"


def definitions_of(model: Any) -> dict[str, Any]:
    """The named schemas ``model`` uses (itself included, if it is a class)."""
    _, components = msgspec.json.schema_components([model], ref_template=REF_TEMPLATE)
    return components


class ChatOpenAPIProvider(OpenAPIProvider):
    def schema(self) -> dict[str, Any]:
        document = super().schema()
        for operations in document["paths"].values():
            for operation in operations.values():
                # OpenAPI needs at least one response; routes outside the API (the web client,
                # health, metrics) document none with quart-schema.
                if not operation.get("responses"):
                    described = operation.get("description") or operation.get("summary")
                    operation["responses"] = {"default": {"description": described or "Any"}}
        return document

    def build_querystring_parameters(
        self, model: type[Any]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        parameters, definitions = super().build_querystring_parameters(model)
        return parameters, {**definitions, **definitions_of(model)}

    def build_request_body(
        self, model: type[Any], source: DataSource
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        body, definitions = super().build_request_body(model, source)
        return body, {**definitions, **definitions_of(model)}

    def build_response_object(
        self, model: type[Any], headers_model: type[Any] | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        response, definitions = super().build_response_object(model, headers_model)
        headers = response["content"].pop("headers", None)
        if headers is not None:
            response["headers"] = headers
        content = getattr(model, CONTENT_ATTRIBUTE, None)
        if content is None:
            # quart-schema takes the first named type as the schema: for list[MessageOut] that
            # is MessageOut, an object, where the answer is an array. msgspec's own top schema.
            (schema,), components = msgspec.json.schema_components(
                [model], ref_template=REF_TEMPLATE
            )
            content = {"application/json": {"schema": schema}}
            definitions = {**definitions, **components}
        response["content"] = content
        item = typing.get_args(model)
        if typing.get_origin(model) is list and item:
            response["description"] = f"A JSON array of {item[0].__name__}"
        return response, definitions
