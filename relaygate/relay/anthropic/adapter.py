"""The Anthropic Messages protocol toward an upstream: request building, usage from answers and streams.

Anthropic reports `input_tokens` without the cached part: the prompt billed is `input_tokens` +
`cache_read_input_tokens` (billed at the cached price) + `cache_creation_input_tokens` (billed as
input). In a stream `message_start` carries the input usage and `message_delta` the cumulative
output usage.
"""

from __future__ import annotations

from typing import Any

import orjson

from relaygate.auth.credentials import Family
from relaygate.billing.charge import Usage, implausible
from relaygate.billing.tokencount import count_content, count_messages, count_text
from relaygate.channels.registry import Channel
from relaygate.errors import GatewayError
from relaygate.redact import redact_upstream_body
from relaygate.relay.call import RelayCall
from relaygate.relay.error_bodies import stream_error_event
from relaygate.relay.json_body import with_fields
from relaygate.relay.sse import event_json
from relaygate.relay.stream_meter import StreamMeter
from relaygate.upstream.client import UpstreamRequest, upstream_base

DEFAULT_VERSION = "2023-06-01"
PASSED_HEADERS = ("anthropic-version", "anthropic-beta")  # client headers that go upstream as they are


class AnthropicAdapter:
    channel_types = frozenset({"anthropic"})

    def build_request(self, channel: Channel, call: RelayCall) -> UpstreamRequest:
        upstream_model = channel.upstream_model(call.model)
        changes: dict[str, Any] = {"model": upstream_model}
        if call.output_limit is not None:
            changes["max_tokens"] = call.output_limit
        body = with_fields(call.body, call.raw, changes)
        headers = {"anthropic-version": DEFAULT_VERSION, **call.upstream_headers}
        headers |= {"x-api-key": channel.key, "Content-Type": "application/json"}
        return UpstreamRequest(url=upstream_base(channel) + call.upstream_path, headers=headers, body=body)

    def response_usage(self, call: RelayCall, data: Any) -> Usage:
        if call.free:
            return Usage()
        usage = data.get("usage") if isinstance(data, dict) else None
        if isinstance(usage, dict) and believable(usage):
            return usage_from(usage, usage)
        content = data.get("content") if isinstance(data, dict) else None
        return Usage(prompt=counted_prompt(call.body), completion=_count(blocks_text(content)))

    def stream_tap(self, call: RelayCall) -> AnthropicStreamTap:
        return AnthropicStreamTap(call)

    def client_body(self, call: RelayCall, status: int, body: bytes, usage: Usage) -> bytes:
        # An error answer is passed on in the client's own protocol, without what looks like a credential.
        return body if 200 <= status < 300 else redact_upstream_body(body)


class AnthropicStreamTap:
    """Forwards every event; reads usage from `message_start` and `message_delta`; ends a stream cut or broken."""

    def __init__(self, call: RelayCall):
        self._call = call
        self._input: dict[str, Any] | None = None
        self._output: dict[str, Any] | None = None
        self._open_block: int | None = None  # the index of a content block started and not yet stopped
        self.meter = StreamMeter(call.output_limit, event_text)

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
        elif b"content_block_start" in event or b"content_block_stop" in event:
            data = event_json(event) or {}
            index = data.get("index")
            if data.get("type") == "content_block_start" and isinstance(index, int):
                self._open_block = index
            elif data.get("type") == "content_block_stop":
                self._open_block = None
        return event

    def close(self) -> bytes:
        return b""

    def cut(self) -> bytes:
        ending = b""
        if self._open_block is not None:
            stop = {"type": "content_block_stop", "index": self._open_block}
            ending += b"event: content_block_stop\ndata: " + orjson.dumps(stop) + b"\n\n"
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
            "usage": {"output_tokens": self.usage().completion},
        }
        ending += b"event: message_delta\ndata: " + orjson.dumps(delta) + b"\n\n"
        return ending + b'event: message_stop\ndata: {"type":"message_stop"}\n\n'

    def fail(self, error: GatewayError) -> bytes:
        return stream_error_event(Family.ANTHROPIC, error)

    def usage(self) -> Usage:
        cut_short = self.meter.over
        if self._output is not None and self._input is not None and not cut_short and believable(self._output):
            return usage_from(self._input, self._output)
        produced = self.meter.output_tokens()
        if self._input is not None and believable(self._input, allow_no_output=True):
            # the stream ended (or was cut) before its final usage: bill what was produced
            counted = usage_from(self._input, {})
            return Usage(counted.prompt, max(produced, _int(self._input.get("output_tokens"))), counted.cached)
        return Usage(prompt=counted_prompt(self._call.body), completion=produced)


def event_text(event: bytes) -> str:
    """The output text of one stream event: a text, tool-input or thinking delta."""
    if b"content_block_delta" not in event:
        return ""
    delta = (event_json(event) or {}).get("delta")
    if not isinstance(delta, dict):
        return ""
    return str(delta.get("text") or delta.get("partial_json") or delta.get("thinking") or "")


def believable(usage: dict[str, Any], *, allow_no_output: bool = False) -> bool:
    """Usage counts that can be billed: none negative, and some prompt or output."""
    counts = [usage.get(name) for name in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")]
    if not allow_no_output:
        counts.append(usage.get("output_tokens"))
    return not implausible(*counts)


def usage_from(input_usage: dict[str, Any], output_usage: dict[str, Any]) -> Usage:
    """Usage from Anthropic's fields; later (cumulative) fields in `output_usage` win."""
    merged = {**input_usage, **{k: v for k, v in output_usage.items() if v is not None}}
    cached = _int(merged.get("cache_read_input_tokens"))
    written = _int(merged.get("cache_creation_input_tokens"))
    prompt = _int(merged.get("input_tokens")) + cached + written
    # `cache_creation` splits the writes by how long they are kept; without it they are 5-minute writes.
    kinds = merged.get("cache_creation")
    hour = min(_int(kinds.get("ephemeral_1h_input_tokens")), written) if isinstance(kinds, dict) else 0
    return Usage(
        prompt=prompt,
        completion=_int(merged.get("output_tokens")),
        cached=cached,
        cache_write_5m=written - hour,
        cache_write_1h=hour,
    )


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
