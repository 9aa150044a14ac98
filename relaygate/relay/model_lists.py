"""The models this token may use, in the shape of the calling client's protocol.

`GET /v1/models` and `/v1/models/{id}` answer OpenAI clients in OpenAI's shape, Anthropic clients
(they send `anthropic-version`) in Anthropic's and Gemini clients (`x-goog-api-key` or `?key=`, as
google-genai lists models under `/v1`) in Gemini's; `GET /v1beta/models` is Gemini's. Each lists
the models its protocol's channels serve.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from relaygate.auth.check import Principal
from relaygate.auth.credentials import Family
from relaygate.billing.groups import AUTO_GROUP
from relaygate.errors import NotFound
from relaygate.relay.anthropic import routes as anthropic_routes
from relaygate.relay.asgi import Receive, Scope, Send, header_map, query_map, send_bytes
from relaygate.relay.gemini import routes as gemini_routes
from relaygate.relay.openai import routes as openai_routes
from relaygate.relay.requests import authenticate_request
from relaygate.relay.routing import RelayRoute
from relaygate.runtime import Runtime

JSON = b"application/json"
ANTHROPIC_HEADER = "anthropic-version"
GEMINI_HEADER = "x-goog-api-key"

_CHANNEL_TYPES = {
    Family.OPENAI: openai_routes.ADAPTER.channel_types,
    Family.ANTHROPIC: anthropic_routes.ADAPTER.channel_types,
    Family.GEMINI: gemini_routes.ADAPTER.channel_types,
}
_PAGES: dict[Family, Callable[[list[str]], dict[str, Any]]] = {
    Family.OPENAI: lambda models: {"object": "list", "data": [openai_routes.model_object(m) for m in models]},
    Family.ANTHROPIC: anthropic_routes.model_page,
    Family.GEMINI: gemini_routes.model_page,
}
_OBJECTS: dict[Family, Callable[[str], dict[str, Any]]] = {
    Family.OPENAI: openai_routes.model_object,
    Family.ANTHROPIC: anthropic_routes.model_object,
    Family.GEMINI: gemini_routes.model_object,
}


def usable_models(rt: Runtime, principal: Principal, family: Family) -> list[str]:
    """Models this token may call: served for its group by the family's channels, priced, and allowed."""
    groups = (*rt.prices.auto_order(), principal.user.group) if principal.group == AUTO_GROUP else (principal.group,)
    models = set().union(*(rt.channels.models_for(group, _CHANNEL_TYPES[family]) for group in groups))
    if principal.token.models:
        models = models & principal.token.models
    return sorted(model for model in models if rt.prices.price_for(model) is not None)


def caller_family(scope: Scope) -> Family:
    headers = {name for name, _ in scope["headers"]}
    if ANTHROPIC_HEADER.encode() in headers:
        return Family.ANTHROPIC
    if GEMINI_HEADER.encode() in headers or "key" in query_map(scope):
        return Family.GEMINI
    return Family.OPENAI


async def list_models(rt: Runtime, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
    family = Family.GEMINI if scope["path"] == "/v1beta/models" else caller_family(scope)
    principal = await authenticate_request(rt, scope, family, header_map(scope))
    page = _PAGES[family](usable_models(rt, principal, family))
    await send_bytes(send, 200, orjson.dumps(page), JSON, [])


async def get_model(rt: Runtime, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
    family = caller_family(scope)
    principal = await authenticate_request(rt, scope, family, header_map(scope))
    model = scope["path"][len("/v1/models/") :].removeprefix("models/")
    if model not in usable_models(rt, principal, family):
        error = NotFound(f"The model {model!r} does not exist or this API key may not use it.", param="model")
        error.code = "model_not_found"
        raise error
    await send_bytes(send, 200, orjson.dumps(_OBJECTS[family](model)), JSON, [])


ROUTES = [
    RelayRoute("GET", "/v1/models", Family.OPENAI, list_models, family_of=caller_family),
    RelayRoute("GET", "/v1/models/", Family.OPENAI, get_model, prefix=True, family_of=caller_family),
    RelayRoute("GET", "/v1beta/models", Family.GEMINI, list_models),
]
