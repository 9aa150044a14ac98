"""`POST /v1/responses`: usage from the response object, or from a stream's terminal event.

A Responses stream has no usage chunk to hide: the usage arrives inside the last event
(`response.completed`, or `response.incomplete` / `response.failed`) as `response.usage`, with
`input_tokens`, `input_tokens_details.cached_tokens` and `output_tokens`.
"""

from __future__ import annotations

from typing import Any

import orjson

from relaygate.billing.charge import Usage
from relaygate.billing.tokencount import count_content, count_text
from relaygate.errors import GatewayError
from relaygate.relay.call import RelayCall, StreamTap
from relaygate.relay.openai.adapter import OpenAIAdapter
from relaygate.relay.openai.usage import usage_from
from relaygate.relay.sse import event_json
from relaygate.relay.stream_meter import StreamMeter

TERMINAL_EVENTS = (b"response.completed", b"response.incomplete", b"response.failed")
OUTPUT_DELTAS = frozenset({"response.output_text.delta", "response.function_call_arguments.delta"})


class ResponsesAdapter(OpenAIAdapter):
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
        self.meter = StreamMeter(call.output_limit, delta_text)

    def forward(self, event: bytes) -> bytes:
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
        usage = self.usage()
        response = {
            **self._response,
            "status": "incomplete",
            "incomplete_details": {"reason": "max_output_tokens"},
            "usage": {
                "input_tokens": usage.prompt,
                "output_tokens": usage.completion,
                "total_tokens": usage.prompt + usage.completion,
            },
        }
        return _event("response.incomplete", {"type": "response.incomplete", "response": response})

    def fail(self, error: GatewayError) -> bytes:
        return _event("error", {"type": "error", "code": error.code, "message": error.message, "param": None})

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
