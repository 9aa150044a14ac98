"""`POST /v1/responses`: usage from the response object, or from a stream's terminal event.

A Responses stream has no usage chunk to hide: the usage arrives inside the last event
(`response.completed`, or `response.incomplete` / `response.failed`) as `response.usage`, with
`input_tokens`, `input_tokens_details.cached_tokens` and `output_tokens`. A stream the upstream
breaks off ends as a failed response does: `response.failed`, numbered after the last event.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from relaygate.billing.charge import Usage
from relaygate.billing.tokencount import count_content, count_text
from relaygate.channels.registry import RESPONSES_CHANNEL_TYPES, responses_type
from relaygate.errors import GatewayError
from relaygate.relay.call import RelayCall, StreamTap
from relaygate.relay.error_bodies import failed_response
from relaygate.relay.openai.adapter import OpenAIAdapter
from relaygate.relay.openai.usage import usage_from
from relaygate.relay.sse import event_json
from relaygate.relay.stream_meter import StreamMeter

TERMINAL_EVENTS = (b"response.completed", b"response.incomplete", b"response.failed")
OUTPUT_DELTAS = frozenset({"response.output_text.delta", "response.function_call_arguments.delta"})
SEQUENCE_NUMBER = re.compile(rb'"sequence_number":\s*(\d+)')


class ResponsesAdapter(OpenAIAdapter):
    # Not a `chat_completions_only` channel: a Responses request for its models converts to chat completions.
    channel_types = frozenset(responses_type(kind) for kind in RESPONSES_CHANNEL_TYPES)

    def response_usage(self, call: RelayCall, data: Any) -> Usage:
        reported = usage_from(data)
        if reported is not None:
            return reported
        text = "".join(_output_texts(data.get("output") if isinstance(data, dict) else None))
        return Usage(prompt=counted_input(call.body), completion=count_text(text) if text else 0)

    def stream_tap(self, call: RelayCall) -> StreamTap:
        return ResponsesStreamTap(call)


class ResponsesStreamTap:
    """Forwards every event; reads the usage of the terminal event, or counts the output deltas."""

    def __init__(self, call: RelayCall):
        self._call = call
        self._reported: Usage | None = None
        self._response: dict[str, Any] = {}  # the response object as `response.created` announced it
        self._sequence = -1  # the last event's `sequence_number`
        self.meter = StreamMeter(call.output_limit, delta_text)

    def forward(self, event: bytes) -> bytes:
        if found := SEQUENCE_NUMBER.search(event):
            self._sequence = int(found[1])
        if not self._response and b"response.created" in event:
            created = (event_json(event) or {}).get("response")
            if isinstance(created, dict):
                self._response = created
        elif any(name in event for name in TERMINAL_EVENTS):
            final = (event_json(event) or {}).get("response")
            if isinstance(final, dict):
                self._reported = usage_from(final) or self._reported
        return event

    def close(self) -> bytes:
        return b""

    def cut(self) -> bytes:
        response = {**self._response, "status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}
        return self._last_event("response.incomplete", response | {"usage": self._usage_object()})

    def fail(self, error: GatewayError) -> bytes:
        return self._last_event(
            "response.failed", failed_response(self._response, error) | {"usage": self._usage_object()}
        )

    def _last_event(self, kind: str, response: dict[str, Any]) -> bytes:
        return _event(kind, {"type": kind, "sequence_number": self._sequence + 1, "response": response})

    def _usage_object(self) -> dict[str, int]:
        usage = self.usage()
        return {
            "input_tokens": usage.prompt,
            "output_tokens": usage.completion,
            "total_tokens": usage.prompt + usage.completion,
        }

    def usage(self) -> Usage:
        if self._reported is not None and not self.meter.over:
            return self._reported
        return Usage(prompt=counted_input(self._call.body), completion=self.meter.output_tokens())


def delta_text(event: bytes) -> str:
    if b".delta" not in event:
        return ""
    data = event_json(event)
    if data is None or data.get("type") not in OUTPUT_DELTAS:
        return ""
    delta = data.get("delta")
    return delta if isinstance(delta, str) else ""


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


def counted_input(body: dict[str, Any]) -> int:
    """Input tokens counted locally: the instructions and every input item's text."""
    total = count_text(body["instructions"]) if isinstance(body.get("instructions"), str) else 0
    items = body.get("input")
    if isinstance(items, str):
        return total + count_text(items)
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict):
            total += count_content(item.get("content"))
    return total


def _output_texts(output: Any) -> list[str]:
    texts: list[str] = []
    for item in output if isinstance(output, list) else ():
        for part in (item.get("content") or ()) if isinstance(item, dict) else ():
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
    return texts
