"""The Anthropic Messages protocol toward an upstream: request building, usage from answers and streams.

Anthropic reports `input_tokens` without the cached part: the prompt billed is `input_tokens` +
`cache_read_input_tokens` (billed at the cached price) + `cache_creation_input_tokens` (billed as
input). In a stream `message_start` carries the input usage and `message_delta` the cumulative
output usage.
"""

from __future__ import annotations

from typing import Any

import orjson

from relaygate.billing.charge import Usage
from relaygate.billing.tokencount import count_content, count_messages, count_text
from relaygate.channels.registry import Channel
from relaygate.redact import redact_upstream_body
from relaygate.relay.call import RelayCall
from relaygate.relay.sse import event_json
from relaygate.relay.upstream import UpstreamRequest, upstream_base

DEFAULT_VERSION = "2023-06-01"
PASSED_HEADERS = ("anthropic-version", "anthropic-beta")  # client headers that go upstream as they are


class AnthropicAdapter:
    channel_types = frozenset({"anthropic"})

    def build_request(self, channel: Channel, call: RelayCall) -> UpstreamRequest:
        upstream_model = channel.upstream_model(call.model)
        body = call.raw if upstream_model == call.model else orjson.dumps({**call.body, "model": upstream_model})
        headers = {"anthropic-version": DEFAULT_VERSION, **call.upstream_headers}
        headers |= {"x-api-key": channel.key, "Content-Type": "application/json"}
        return UpstreamRequest(url=upstream_base(channel) + call.upstream_path, headers=headers, body=body)

    def response_usage(self, call: RelayCall, data: Any) -> Usage:
        if call.free:
            return Usage()
        usage = data.get("usage") if isinstance(data, dict) else None
        if isinstance(usage, dict):
            return usage_from(usage, usage)
        content = data.get("content") if isinstance(data, dict) else None
        return Usage(prompt=counted_prompt(call.body), completion=_count(blocks_text(content)))

    def stream_tap(self, call: RelayCall) -> AnthropicStreamTap:
        return AnthropicStreamTap(call)

    def client_body(self, call: RelayCall, status: int, body: bytes, usage: Usage) -> bytes:
        # An error answer is passed on in the client's own protocol, without what looks like a credential.
        return body if 200 <= status < 300 else redact_upstream_body(body)


class AnthropicStreamTap:
    """Forwards every event; reads usage from `message_start` and `message_delta`."""

    def __init__(self, call: RelayCall):
        self._call = call
        self._input: dict[str, Any] | None = None
        self._output: dict[str, Any] | None = None
        self._text: list[str] = []

    def forward(self, event: bytes) -> bytes:
        if b'"usage"' in event:
            data = event_json(event) or {}
            if data.get("type") == "message_start":
                message = data.get("message")
                usage = message.get("usage") if isinstance(message, dict) else None
                self._input = usage if isinstance(usage, dict) else None
            elif data.get("type") == "message_delta":
                usage = data.get("usage")
                self._output = usage if isinstance(usage, dict) else self._output
        elif b"content_block_delta" in event:
            delta = (event_json(event) or {}).get("delta")
            if isinstance(delta, dict):
                self._text.append(str(delta.get("text") or delta.get("partial_json") or delta.get("thinking") or ""))
        return event

    def close(self) -> bytes:
        return b""

    def usage(self) -> Usage:
        if self._output is not None and self._input is not None:
            return usage_from(self._input, self._output)
        produced = _count("".join(self._text))
        if self._input is not None:  # the stream ended before its final usage: bill what was produced
            counted = usage_from(self._input, {})
            return Usage(counted.prompt, max(produced, _int(self._input.get("output_tokens"))), counted.cached)
        return Usage(prompt=counted_prompt(self._call.body), completion=produced)


def usage_from(input_usage: dict[str, Any], output_usage: dict[str, Any]) -> Usage:
    """Usage from Anthropic's fields; later (cumulative) fields in `output_usage` win."""
    merged = {**input_usage, **{k: v for k, v in output_usage.items() if v is not None}}
    cached = _int(merged.get("cache_read_input_tokens"))
    prompt = _int(merged.get("input_tokens")) + cached + _int(merged.get("cache_creation_input_tokens"))
    return Usage(prompt=prompt, completion=_int(merged.get("output_tokens")), cached=cached)


def counted_prompt(request: dict[str, Any]) -> int:
    return count_messages(request.get("messages")) + count_content(request.get("system"))


def blocks_text(content: Any) -> str:
    """The text of answer blocks: text, tool-use input and thinking."""
    pieces = []
    for block in content if isinstance(content, list) else ():
        if isinstance(block, dict):
            if block.get("type") == "tool_use":
                pieces.append(str(block.get("name") or "") + orjson.dumps(block.get("input")).decode())
            else:
                pieces.append(str(block.get("text") or block.get("thinking") or ""))
    return "".join(pieces)


def _count(text: str) -> int:
    return count_text(text) if text else 0


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
