"""What every relay route does with an incoming request: find and check the key, parse the body."""

from __future__ import annotations

from typing import Any

import orjson

from relaygate.auth.check import Principal, authenticate
from relaygate.auth.client_ip import client_ip
from relaygate.auth.credentials import Family, extract_key, refuse_repeated_credentials
from relaygate.errors import BadRequest
from relaygate.json_depth import is_depth_error, json_depth_over_limit, too_deep_message
from relaygate.relay.asgi import Scope, query_map
from relaygate.runtime import Runtime


async def authenticate_request(rt: Runtime, scope: Scope, family: Family, headers: dict[str, str]) -> Principal:
    """Find the key where `family`'s clients put it, check it, and learn the client's address."""
    if len(headers) != len(scope["headers"]):  # some header name repeats (header_map kept the first)
        refuse_repeated_credentials(name for name, _ in scope["headers"])
    key = extract_key(family, headers, query_map(scope) if family is Family.GEMINI else {})
    peer = scope.get("client")
    ip = client_ip(peer[0] if peer else None, headers.get("x-forwarded-for"), rt.settings.trusted_proxies)
    return await authenticate(rt.access, key, ip, rt.prices.selectable_groups())


def parse_request_json(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if is_depth_error(exc):
            raise BadRequest(too_deep_message(), code="json_too_deep") from exc
        raise BadRequest(
            f"The request body is not valid JSON ({exc.args[0]}): send a JSON object.", code="invalid_json"
        ) from exc
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.", code="invalid_json")
    if json_depth_over_limit(body, raw=raw):
        raise BadRequest(too_deep_message(), code="json_too_deep")
    return body


def required_model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest(
            'The request has no \'model\': add the model name, for example "model": "gpt-4o-mini".',
            code="missing_model",
            param="model",
        )
    return model
