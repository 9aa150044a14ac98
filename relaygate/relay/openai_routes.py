"""The OpenAI face of the relay: `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `/v1/models`."""

from __future__ import annotations

from typing import Any

import orjson

from relaygate.auth.check import Principal
from relaygate.auth.credentials import Family
from relaygate.errors import NotFound
from relaygate.relay.asgi import Receive, Scope, Send, header_map, read_body, send_bytes
from relaygate.relay.call import RelayCall
from relaygate.relay.openai_adapter import OpenAIAdapter
from relaygate.relay.pipeline import relay
from relaygate.relay.requests import authenticate_request, parse_request_json, required_model
from relaygate.relay.routing import Handler, RelayRoute
from relaygate.runtime import Runtime

JSON = b"application/json"
ADAPTER = OpenAIAdapter()


def relay_endpoint(endpoint: str, upstream_path: str) -> Handler:
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
            generates=endpoint != "embeddings",
        )
        await relay(rt, principal, call, ADAPTER, receive, send)

    return route


def usable_models(rt: Runtime, principal: Principal) -> list[str]:
    """Models this token may call: served for its group, priced, and allowed by the token."""
    models = rt.channels.models_for(principal.group, ADAPTER.channel_types)
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


ROUTES = [
    RelayRoute(
        "POST", "/v1/chat/completions", Family.OPENAI, relay_endpoint("chat.completions", "/v1/chat/completions")
    ),
    RelayRoute("POST", "/v1/completions", Family.OPENAI, relay_endpoint("completions", "/v1/completions")),
    RelayRoute("POST", "/v1/embeddings", Family.OPENAI, relay_endpoint("embeddings", "/v1/embeddings")),
    RelayRoute("GET", "/v1/models", Family.OPENAI, list_models),
    RelayRoute("GET", "/v1/models/", Family.OPENAI, get_model, prefix=True),
]
