"""`POST /v1/responses`: usage from the response object, or from a stream's terminal event.

A Responses stream has no usage chunk to hide: the usage arrives inside the last event
(`response.completed`, or `response.incomplete` / `response.failed`) as `response.usage`, with
`input_tokens`, `input_tokens_details.cached_tokens` and `output_tokens`.
"""

from __future__ import annotations

from typing import Any

from relaygate.billing.charge import Usage
from relaygate.billing.tokencount import count_content, count_text
from relaygate.relay.call import RelayCall, StreamTap
from relaygate.relay.openai_adapter import OpenAIAdapter
from relaygate.relay.openai_usage import usage_from
from relaygate.relay.sse import event_json

TERMINAL_EVENTS = (b"response.completed", b"response.incomplete", b"response.failed")


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
    """Forwards every event; reads the usage of the terminal event, or counts the text deltas."""

    def __init__(self, call: RelayCall):
        self._call = call
        self._deltas: list[str] = []
        self._reported: Usage | None = None

    def forward(self, event: bytes) -> bytes:
        if b"response.output_text.delta" in event:
            data = event_json(event)
            if data is not None and data.get("type") == "response.output_text.delta":
                delta = data.get("delta")
                self._deltas.append(delta if isinstance(delta, str) else "")
        elif any(name in event for name in TERMINAL_EVENTS):
            data = event_json(event)
            if data is not None and isinstance(data.get("response"), dict):
                self._reported = usage_from(data["response"]) or self._reported
        return event

    def close(self) -> bytes:
        return b""

    def usage(self) -> Usage:
        if self._reported is not None:
            return self._reported
        text = "".join(self._deltas)
        return Usage(prompt=counted_input(self._call.body), completion=count_text(text) if text else 0)


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
