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

from relaygate.auth.credentials import Family
from relaygate.billing.charge import Usage, implausible
from relaygate.billing.estimate import GENERATION_CONFIGS
from relaygate.billing.tokencount import count_text
from relaygate.channels.registry import Channel
from relaygate.errors import GatewayError
from relaygate.redact import redact_upstream_body
from relaygate.relay.call import RelayCall
from relaygate.relay.error_bodies import stream_error_event
from relaygate.relay.gemini.casing import field
from relaygate.relay.sse import event_json
from relaygate.relay.stream_meter import StreamMeter
from relaygate.upstream.client import UpstreamRequest, upstream_base

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
        elif call.output_limit is not None:
            body = with_output_limit(call.body, call.raw, call.output_limit)
        path = call.upstream_path.replace(MODEL_PLACEHOLDER, quote(upstream_model, safe=""))
        headers = {"x-goog-api-key": channel.key, "Content-Type": "application/json"}
        return UpstreamRequest(url=upstream_base(channel, API_VERSIONS) + path, headers=headers, body=body)

    def response_usage(self, call: RelayCall, data: Any) -> Usage:
        if call.free:
            return Usage()
        answers = data if isinstance(data, list) else [data]  # streamGenerateContent without alt=sse
        for answer in reversed(answers):
            metadata = field(answer, "usageMetadata")
            if isinstance(metadata, dict) and believable(metadata):
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
    """Forwards every chunk; the last `usageMetadata` seen is the usage; ends a stream cut or broken."""

    def __init__(self, call: RelayCall):
        self._call = call
        self._metadata: dict[str, Any] | None = None
        self._model_version: object = None
        self.meter = StreamMeter(call.output_limit, lambda event: answer_text(event_json(event)))

    def forward(self, event: bytes) -> bytes:
        if b'"usageMetadata"' in event or b'"usage_metadata"' in event:
            data = event_json(event) or {}
            metadata = field(data, "usageMetadata")
            if isinstance(metadata, dict) and believable(metadata):
                self._metadata = metadata
                self._model_version = field(data, "modelVersion") or self._model_version
        return event

    def close(self) -> bytes:
        return b""

    def cut(self) -> bytes:
        usage = self.usage()
        chunk: dict[str, Any] = {
            "candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "MAX_TOKENS"}],
            "usageMetadata": {
                "promptTokenCount": usage.prompt,
                "candidatesTokenCount": usage.completion,
                "totalTokenCount": usage.prompt + usage.completion,
            },
        }
        if self._model_version is not None:
            chunk["modelVersion"] = self._model_version
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    def fail(self, error: GatewayError) -> bytes:
        return stream_error_event(Family.GEMINI, error)

    def usage(self) -> Usage:
        produced = self.meter.output_tokens() if self.meter.over or self._metadata is None else 0
        if self._metadata is not None:
            reported = usage_from(self._metadata)
            if produced > reported.completion:  # cut before the upstream's count caught up
                return Usage(reported.prompt, produced, reported.cached)
            return reported
        return Usage(prompt=_count(" ".join(request_texts(self._call.body))), completion=produced)


def with_output_limit(body: dict[str, Any], raw: bytes, limit: int) -> bytes:
    """The request with `limit` as its output limit, in whichever spelling its generation config uses."""
    name = next((name for name in GENERATION_CONFIGS if isinstance(body.get(name), dict)), "generationConfig")
    config = dict(body.get(name) or {})
    field = "max_output_tokens" if "max_output_tokens" in config else "maxOutputTokens"
    if config.get(field) == limit:
        return raw
    config[field] = limit
    return orjson.dumps({**body, name: config})


def believable(metadata: dict[str, Any]) -> bool:
    return not implausible(field(metadata, "promptTokenCount"), field(metadata, "candidatesTokenCount"))


def usage_from(metadata: dict[str, Any]) -> Usage:
    prompt = _int(field(metadata, "promptTokenCount")) + _int(field(metadata, "toolUsePromptTokenCount"))
    completion = _int(field(metadata, "candidatesTokenCount")) + _int(field(metadata, "thoughtsTokenCount"))
    return Usage(prompt=prompt, completion=completion, cached=_int(field(metadata, "cachedContentTokenCount")))


def counted_usage(request: dict[str, Any], answer: str) -> Usage:
    return Usage(prompt=_count(" ".join(request_texts(request))), completion=_count(answer))


def request_texts(request: dict[str, Any]) -> list[str]:
    """The text parts of a generate, count or embed request."""
    contents: list[Any] = [field(request, "systemInstruction"), request.get("content")]
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
