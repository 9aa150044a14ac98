"""The Gemini face of the relay: `POST /v1beta/models/{model}:{method}` (and the same under `/v1`).

Methods: `generateContent`, `streamGenerateContent` (`?alt=sse` streams events; without it the
answer is one JSON array, relayed whole), `countTokens` (free), `embedContent` and
`batchEmbedContents` (what google-genai's `embed_content` sends). Upstream, every call goes to
`/v1beta`, which serves them all. `GET /v1beta/models` is in `model_lists`.
"""

from __future__ import annotations

from typing import Any

from relaygate.auth.credentials import Family
from relaygate.errors import NotFound
from relaygate.relay.asgi import Receive, Scope, Send, header_map, query_map, read_body
from relaygate.relay.call import RelayCall
from relaygate.relay.gemini.adapter import MODEL_PLACEHOLDER, GeminiAdapter
from relaygate.relay.pipeline import relay
from relaygate.relay.requests import authenticate_request, parse_request_json
from relaygate.relay.routing import RelayRoute
from relaygate.runtime import Runtime

ADAPTER = GeminiAdapter()
METHODS = ("generateContent", "streamGenerateContent", "countTokens", "embedContent", "batchEmbedContents")
FREE_METHODS = frozenset({"countTokens"})
NO_OUTPUT_METHODS = frozenset({"countTokens", "embedContent", "batchEmbedContents"})


def model_and_method(path: str, prefix: str) -> tuple[str, str]:
    model, _, method = path[len(prefix) :].rpartition(":")
    if not model or method not in METHODS:
        raise NotFound(
            f"There is no Gemini method at {path}: use /v1beta/models/MODEL:METHOD with METHOD one of "
            f"{', '.join(METHODS)}."
        )
    return model, method


def method_route(prefix: str) -> RelayRoute:
    async def route(rt: Runtime, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        model, method = model_and_method(scope["path"], prefix)
        headers = header_map(scope)
        principal = await authenticate_request(rt, scope, Family.GEMINI, headers)
        raw = await read_body(receive, headers, rt.settings.max_body_bytes)
        stream = method == "streamGenerateContent" and query_map(scope).get("alt") == "sse"
        call = RelayCall(
            family=Family.GEMINI,
            endpoint=method,
            upstream_path=f"/v1beta/models/{MODEL_PLACEHOLDER}:{method}" + ("?alt=sse" if stream else ""),
            body=parse_request_json(raw),
            raw=raw,
            model=model,
            stream=stream,
            request_id=request_id,
            generates=method not in NO_OUTPUT_METHODS,
            free=method in FREE_METHODS,
        )
        await relay(rt, principal, call, ADAPTER, receive, send)

    return RelayRoute("POST", prefix, Family.GEMINI, route, prefix=True)


def model_object(model: str) -> dict[str, Any]:
    """A model in the shape of Gemini's `GET /v1beta/models`."""
    return {
        "name": f"models/{model}",
        "displayName": model,
        "description": "",
        "supportedGenerationMethods": list(METHODS),
    }


def model_page(models: list[str]) -> dict[str, Any]:
    return {"models": [model_object(model) for model in models]}


ROUTES = [
    method_route("/v1beta/models/"),
    method_route("/v1/models/"),
]
