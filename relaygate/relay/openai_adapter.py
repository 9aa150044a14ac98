"""The OpenAI protocol toward an upstream: request building, usage from responses and streams."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, quote

import orjson

from relaygate.billing.charge import Usage
from relaygate.channels.registry import Channel
from relaygate.redact import redact_upstream_body
from relaygate.relay.call import RelayCall, StreamTap
from relaygate.relay.openai_usage import counted_stream_usage, counted_usage, usage_from
from relaygate.relay.sse import event_json
from relaygate.relay.upstream import UpstreamRequest, upstream_base

STREAM_USAGE_ENDPOINTS = frozenset({"chat.completions", "completions"})
AZURE_API_VERSION = "2024-10-21"  # the GA version used when the channel's base URL names none


def openai_endpoint(channel: Channel, path: str, upstream_model: str) -> tuple[str, dict[str, str]]:
    """URL and credential header for an OpenAI-protocol path on this channel.

    Azure OpenAI serves a model as a deployment: `{base}/openai/deployments/{deployment}/chat/completions
    ?api-version=...` with an `api-key` header; the deployment is the (mapped) model name, and the API
    version may be given in the channel's base URL as `?api-version=`.
    """
    if channel.type != "azure":
        return upstream_base(channel) + path, {"Authorization": f"Bearer {channel.key}"}
    base, _, query = channel.base_url.partition("?")
    version = parse_qs(query).get("api-version", [AZURE_API_VERSION])[0]
    base = base.rstrip("/").removesuffix("/openai")
    deployment = quote(upstream_model, safe="")
    return f"{base}/openai/deployments/{deployment}{path.removeprefix('/v1')}?api-version={version}", {
        "api-key": channel.key
    }


def client_wants_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


class OpenAIAdapter:
    channel_types = frozenset({"openai", "azure"})

    def build_request(self, channel: Channel, call: RelayCall) -> UpstreamRequest:
        body = call.body
        upstream_model = channel.upstream_model(call.model)
        if upstream_model != call.model:
            body = {**body, "model": upstream_model}
        if call.stream and call.endpoint in STREAM_USAGE_ENDPOINTS and not client_wants_usage(body):
            options = body.get("stream_options")
            extra = options if isinstance(options, dict) else {}
            body = {**body, "stream_options": {**extra, "include_usage": True}}
        url, credential = openai_endpoint(channel, call.upstream_path, upstream_model)
        return UpstreamRequest(
            url=url,
            headers={**credential, "Content-Type": "application/json"},
            body=call.raw if body is call.body else orjson.dumps(body),
        )

    def response_usage(self, call: RelayCall, data: Any) -> Usage:
        return usage_from(data) or counted_usage(call.body, data)

    def stream_tap(self, call: RelayCall) -> StreamTap:
        return OpenAIStreamTap(call, client_wants_usage(call.body))

    def client_body(self, call: RelayCall, status: int, body: bytes, usage: Usage) -> bytes:
        # An error answer is passed on in the client's own protocol, without what looks like a credential.
        return body if 200 <= status < 300 else redact_upstream_body(body)


class OpenAIStreamTap:
    """Finds the usage chunk; hides it when only the gateway asked for it."""

    def __init__(self, call: RelayCall, client_wants_usage: bool):
        self._call = call
        self._client_wants_usage = client_wants_usage
        self._events: list[bytes] = []
        self._reported: Usage | None = None

    def forward(self, event: bytes) -> bytes:
        self._events.append(event)
        if b'"usage"' not in event or b'"usage":null' in event:
            return event
        data = event_json(event)
        usage = usage_from(data)
        if usage is not None:
            self._reported = usage
            if not self._client_wants_usage and data is not None and data.get("choices") == []:
                return b""
        return event

    def close(self) -> bytes:
        return b""

    def usage(self) -> Usage:
        return self._reported or counted_stream_usage(self._call.body, self._events)
