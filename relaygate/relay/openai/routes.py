"""The OpenAI face of the relay: `/v1/chat/completions`, `/v1/completions`, `/v1/responses`, `/v1/embeddings`.

`GET /v1/models` is in `model_lists`, since Anthropic clients call it too.
"""

from __future__ import annotations

from typing import Any

from relaygate.auth.credentials import Family
from relaygate.relay.asgi import Receive, Scope, Send, header_map, read_body
from relaygate.relay.call import Adapter, RelayCall
from relaygate.relay.openai.adapter import OpenAIAdapter
from relaygate.relay.openai.responses import ResponsesAdapter
from relaygate.relay.pipeline import relay
from relaygate.relay.requests import authenticate_request, parse_request_json, required_model
from relaygate.relay.routing import Handler, RelayRoute
from relaygate.runtime import Runtime

JSON = b"application/json"
ADAPTER = OpenAIAdapter()


LEGACY_COMPLETION_DEFAULT_OUTPUT = 16  # what OpenAI's /v1/completions writes when max_tokens is not set


def relay_endpoint(endpoint: str, upstream_path: str, adapter: Adapter = ADAPTER) -> Handler:
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
            default_output=LEGACY_COMPLETION_DEFAULT_OUTPUT if endpoint == "completions" else None,
        )
        await relay(rt, principal, call, adapter, receive, send)

    return route


def model_object(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 0, "owned_by": "relaygate"}


ROUTES = [
    RelayRoute(
        "POST", "/v1/chat/completions", Family.OPENAI, relay_endpoint("chat.completions", "/v1/chat/completions")
    ),
    RelayRoute("POST", "/v1/completions", Family.OPENAI, relay_endpoint("completions", "/v1/completions")),
    RelayRoute(
        "POST", "/v1/responses", Family.OPENAI, relay_endpoint("responses", "/v1/responses", ResponsesAdapter())
    ),
    RelayRoute("POST", "/v1/embeddings", Family.OPENAI, relay_endpoint("embeddings", "/v1/embeddings")),
]
