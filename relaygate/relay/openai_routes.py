"""The OpenAI face of the relay: `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `/v1/models`."""

from __future__ import annotations

from typing import Any

import orjson

from relaygate.auth.check import Principal, authenticate
from relaygate.auth.client_ip import client_ip
from relaygate.auth.credentials import Family, extract_key
from relaygate.errors import BadRequest, NotFound
from relaygate.relay.asgi import Receive, Scope, Send, header_map, query_map, read_body, send_bytes
from relaygate.relay.call import RelayCall
from relaygate.relay.openai_adapter import OpenAIAdapter
from relaygate.relay.pipeline import relay
from relaygate.runtime import Runtime

JSON = b"application/json"
ADAPTER = OpenAIAdapter()


async def authenticate_request(rt: Runtime, scope: Scope, family: Family, headers: dict[str, str]) -> Principal:
    """Find the key where `family`'s clients put it, check it, and learn the client's address."""
    key = extract_key(family, headers, query_map(scope) if family is Family.GEMINI else {})
    peer = scope.get("client")
    ip = client_ip(peer[0] if peer else None, headers.get("x-forwarded-for"), rt.settings.trusted_proxies)
    return await authenticate(rt.access, key, ip)


def parse_request_json(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(
            f"The request body is not valid JSON ({exc.args[0]}): send a JSON object.", code="invalid_json"
        ) from exc
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.", code="invalid_json")
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


def relay_endpoint(endpoint: str, upstream_path: str) -> Any:
    """A route that relays a JSON body to the same path upstream."""

    async def route(rt: Runtime, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        headers = header_map(scope)
        principal = await authenticate_request(rt, scope, Family.OPENAI, headers)
        raw = await read_body(receive, headers, rt.settings.max_body_bytes)
        body = parse_request_json(raw)
        model = required_model(body)
        call = RelayCall(
            family=Family.OPENAI,
            endpoint=endpoint,
            upstream_path=upstream_path,
            body=body,
            raw=raw,
            model=model,
            stream=body.get("stream") is True,
            request_id=request_id,
        )
        await relay(rt, principal, call, ADAPTER, receive, send)

    return route


def usable_models(rt: Runtime, principal: Principal) -> list[str]:
    """Models this token may call: served for its group, priced, and allowed by the token."""
    models = rt.channels.models_for(principal.group)
    if principal.token.models:
        models = models & principal.token.models
    return sorted(model for model in models if rt.prices.price_for(model) is not None)


def model_object(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 0, "owned_by": "relaygate"}


async def list_models(rt: Runtime, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
    principal = await authenticate_request(rt, scope, Family.OPENAI, header_map(scope))
    data = [model_object(model) for model in usable_models(rt, principal)]
    await send_bytes(send, 200, orjson.dumps({"object": "list", "data": data}), JSON, [])


async def get_model(rt: Runtime, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
    principal = await authenticate_request(rt, scope, Family.OPENAI, header_map(scope))
    model = scope["path"][len("/v1/models/") :]
    if model not in usable_models(rt, principal):
        error = NotFound(f"The model {model!r} does not exist or this API key may not use it.", param="model")
        error.code = "model_not_found"
        raise error
    await send_bytes(send, 200, orjson.dumps(model_object(model)), JSON, [])


ROUTES = {
    ("POST", "/v1/chat/completions"): relay_endpoint("chat.completions", "/v1/chat/completions"),
    ("POST", "/v1/completions"): relay_endpoint("completions", "/v1/completions"),
    ("POST", "/v1/embeddings"): relay_endpoint("embeddings", "/v1/embeddings"),
    ("GET", "/v1/models"): list_models,
}
PREFIX_ROUTES = {("GET", "/v1/models/"): get_model}
