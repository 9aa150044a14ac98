"""Gemini's schemas as JSON Schema, for tools and structured output converted to another protocol.

Gemini takes two forms: `parametersJsonSchema` / `responseJsonSchema` (JSON Schema already, kept
as it is) and `parameters` / `responseSchema`, a subset of OpenAPI 3.0's schema object with its
own spellings: type names in upper case ("OBJECT", "STRING"), `nullable: true` for JSON Schema's
`"null"` type, and `propertyOrdering`, which only Gemini knows (OpenAI's strict schemas refuse
unknown keywords, so it is dropped). Either casing of the keywords is read (`schema_keys`).
"""

from __future__ import annotations

from typing import Any

from relaygate.relay.convert.ir import ResponseFormat
from relaygate.relay.gemini.casing import field, schema_keys

GEMINI_ONLY_KEYWORDS = frozenset({"nullable", "propertyOrdering"})
JSON_MIME_TYPE = "application/json"
PLAIN_MIME_TYPES = frozenset({"text/plain", JSON_MIME_TYPE})  # what converts; "text/x.enum" does not


def json_schema(openapi: Any) -> Any:
    """A Gemini OpenAPI-style schema (either casing) as JSON Schema."""
    return _converted(schema_keys(openapi))


def _converted(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_converted(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key in GEMINI_ONLY_KEYWORDS:
            continue
        if key == "type" and isinstance(value, str):
            converted[key] = value.lower()
        elif key == "properties" and isinstance(value, dict):
            converted[key] = {name: _converted(item) for name, item in value.items()}
        else:
            converted[key] = _converted(value)
    if schema.get("nullable") is True and isinstance(converted.get("type"), str):
        converted["type"] = [converted["type"], "null"]
    return converted


def response_format(config: Any) -> ResponseFormat | None:
    """The structured output a `generationConfig` asks for: JSON, following its schema when it has one."""
    if field(config, "responseMimeType") != JSON_MIME_TYPE:
        return None
    schema = field(config, "responseJsonSchema")
    if not isinstance(schema, dict) and isinstance(openapi := field(config, "responseSchema"), dict):
        schema = json_schema(openapi)
    return ResponseFormat(schema if isinstance(schema, dict) else None)
