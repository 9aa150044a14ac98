"""The Anthropic face of the relay: `POST /v1/messages` and `/v1/messages/count_tokens` (free)."""

from __future__ import annotations

from typing import Any

from relaygate.auth.credentials import Family
from relaygate.relay.anthropic.adapter import PASSED_HEADERS, AnthropicAdapter
from relaygate.relay.asgi import Receive, Scope, Send, header_map, read_body
from relaygate.relay.call import RelayCall
from relaygate.relay.pipeline import relay
from relaygate.relay.requests import authenticate_request, parse_request_json, required_model
from relaygate.relay.routing import Handler, RelayRoute
from relaygate.runtime import Runtime

ADAPTER = AnthropicAdapter()
MODEL_CREATED_AT = "2024-01-01T00:00:00Z"  # the gateway does not know when an upstream released a model


def messages_endpoint(endpoint: str, upstream_path: str, *, free: bool) -> Handler:
    async def route(rt: Runtime, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        headers = header_map(scope)
        principal = await authenticate_request(rt, scope, Family.ANTHROPIC, headers)
        raw = await read_body(receive, headers, rt.settings.max_body_bytes)
        body = parse_request_json(raw)
        call = RelayCall(
            family=Family.ANTHROPIC,
            endpoint=endpoint,
            upstream_path=upstream_path,
            body=body,
            raw=raw,
            model=required_model(body),
            stream=not free and body.get("stream") is True,
            request_id=request_id,
            generates=not free,
            free=free,
            upstream_headers={name: headers[name] for name in PASSED_HEADERS if name in headers},
        )
        await relay(rt, principal, call, ADAPTER, receive, send)

    return route


def model_object(model: str) -> dict[str, Any]:
    """A model in the shape of Anthropic's `GET /v1/models`."""
    return {"type": "model", "id": model, "display_name": model, "created_at": MODEL_CREATED_AT}


def model_page(models: list[str]) -> dict[str, Any]:
    return {
        "data": [model_object(model) for model in models],
        "has_more": False,
        "first_id": models[0] if models else None,
        "last_id": models[-1] if models else None,
    }


ROUTES = [
    RelayRoute("POST", "/v1/messages", Family.ANTHROPIC, messages_endpoint("messages", "/v1/messages", free=False)),
    RelayRoute(
        "POST",
        "/v1/messages/count_tokens",
        Family.ANTHROPIC,
        messages_endpoint("messages.count_tokens", "/v1/messages/count_tokens", free=True),
    ),
]
