"""The Gemini protocol toward an upstream: request building, usage from answers and streams.

The model is in the URL path. `usageMetadata.promptTokenCount` includes `cachedContentTokenCount`;
output is `candidatesTokenCount` plus `thoughtsTokenCount`. In a stream every chunk may carry
`usageMetadata`, cumulative, so the last one seen is the final (or, after a disconnect, what was
produced).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson

from relaygate.billing.charge import Usage
from relaygate.billing.tokencount import count_text
from relaygate.channels.registry import Channel
from relaygate.redact import redact_upstream_body
from relaygate.relay.call import RelayCall
from relaygate.relay.sse import event_json
from relaygate.relay.upstream import UpstreamRequest, upstream_base

MODEL_PLACEHOLDER = "{model}"  # in RelayCall.upstream_path, replaced by each channel's model name
API_VERSIONS = ("/v1beta", "/v1")


class GeminiAdapter:
    channel_types = frozenset({"gemini"})

    def build_request(self, channel: Channel, call: RelayCall) -> UpstreamRequest:
        upstream_model = channel.upstream_model(call.model)
        body = call.raw
        if upstream_model != call.model and isinstance(call.body.get("requests"), list):
            named = f"models/{upstream_model}"
            requests = [{**item, "model": named} if isinstance(item, dict) else item for item in call.body["requests"]]
            body = orjson.dumps({**call.body, "requests": requests})
        path = call.upstream_path.replace(MODEL_PLACEHOLDER, quote(upstream_model, safe=""))
        headers = {"x-goog-api-key": channel.key, "Content-Type": "application/json"}
        return UpstreamRequest(url=upstream_base(channel, API_VERSIONS) + path, headers=headers, body=body)

    def response_usage(self, call: RelayCall, data: Any) -> Usage:
        if call.free:
            return Usage()
        answers = data if isinstance(data, list) else [data]  # streamGenerateContent without alt=sse
        for answer in reversed(answers):
            metadata = answer.get("usageMetadata") if isinstance(answer, dict) else None
            if isinstance(metadata, dict):
                return usage_from(metadata)
        if not call.generates:
            return Usage(prompt=_count(" ".join(request_texts(call.body))))
        return counted_usage(call.body, "".join(answer_text(answer) for answer in answers))

    def stream_tap(self, call: RelayCall) -> GeminiStreamTap:
        return GeminiStreamTap(call)

    def client_body(self, call: RelayCall, status: int, body: bytes, usage: Usage) -> bytes:
        # An error answer is passed on in the client's own protocol, without what looks like a credential.
        return body if 200 <= status < 300 else redact_upstream_body(body)


class GeminiStreamTap:
    """Forwards every chunk; the last `usageMetadata` seen is the usage."""

    def __init__(self, call: RelayCall):
        self._call = call
        self._metadata: dict[str, Any] | None = None
        self._events: list[bytes] = []

    def forward(self, event: bytes) -> bytes:
        if b'"usageMetadata"' in event:
            metadata = (event_json(event) or {}).get("usageMetadata")
            if isinstance(metadata, dict):
                self._metadata = metadata
        elif self._metadata is None:
            self._events.append(event)  # kept only while nothing reported usage
        return event

    def close(self) -> bytes:
        return b""

    def usage(self) -> Usage:
        if self._metadata is not None:
            return usage_from(self._metadata)
        return counted_usage(self._call.body, "".join(answer_text(event_json(event)) for event in self._events))


def usage_from(metadata: dict[str, Any]) -> Usage:
    prompt = _int(metadata.get("promptTokenCount")) + _int(metadata.get("toolUsePromptTokenCount"))
    completion = _int(metadata.get("candidatesTokenCount")) + _int(metadata.get("thoughtsTokenCount"))
    return Usage(prompt=prompt, completion=completion, cached=_int(metadata.get("cachedContentTokenCount")))


def counted_usage(request: dict[str, Any], answer: str) -> Usage:
    return Usage(prompt=_count(" ".join(request_texts(request))), completion=_count(answer))


def request_texts(request: dict[str, Any]) -> list[str]:
    """The text parts of a generate, count or embed request."""
    contents: list[Any] = [request.get("systemInstruction"), request.get("content")]
    listed, requests = request.get("contents"), request.get("requests")
    contents += listed if isinstance(listed, list) else []
    contents += (
        [item.get("content") for item in requests if isinstance(item, dict)] if isinstance(requests, list) else []
    )
    return [text for content in contents for text in _part_texts(content)]


def answer_text(answer: Any) -> str:
    candidates = answer.get("candidates") if isinstance(answer, dict) else None
    if not isinstance(candidates, list):
        return ""
    return "".join(
        text
        for candidate in candidates
        if isinstance(candidate, dict)
        for text in _part_texts(candidate.get("content"))
    )


def _part_texts(content: Any) -> list[str]:
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list):
        return []
    return [part["text"] for part in parts if isinstance(part, dict) and isinstance(part.get("text"), str)]


def _count(text: str) -> int:
    return count_text(text) if text else 0


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
