"""Structured output (OpenAI `response_format`) for targets without it: Anthropic gets a forced tool.

The tool's input is the answer: it comes back to the client as the message's text content, whole
or streamed, and the answer stops as a plain one ("stop"), not as a tool call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from relaygate.relay.convert.ir import (
    ChatRequest,
    ChatResponse,
    Finish,
    ResponseFormat,
    StreamDelta,
    Text,
    TextDelta,
    ToolArgumentsDelta,
    ToolCall,
    ToolCallStart,
)

if TYPE_CHECKING:  # codecs imports the renderers, which import this module
    from relaygate.relay.convert.codecs import StreamParser

ANSWER_TOOL = "json_answer"  # the forced tool's name; its input is the JSON answer
ANY_OBJECT: dict[str, Any] = {"type": "object"}


def answer_tool(response_format: ResponseFormat) -> dict[str, Any]:
    """The Anthropic tool whose input is the structured answer."""
    return {
        "name": ANSWER_TOOL,
        "description": "Give the answer as this tool's input: a JSON object"
        + (f" ({response_format.name})" if response_format.name else "")
        + (", following its schema." if response_format.schema else "."),
        "input_schema": response_format.schema or ANY_OBJECT,
    }


def as_content(request: ChatRequest, response: ChatResponse) -> ChatResponse:
    """The answer with the answer tool's input as its text, when the request asked for structured output."""
    if request.response_format is None:
        return response
    parts = [
        Text(part.arguments) if isinstance(part, ToolCall) and part.name == ANSWER_TOOL else part
        for part in response.parts
    ]
    calls = any(isinstance(part, ToolCall) for part in parts)
    stop = "stop" if response.stop == "tool_calls" and not calls else response.stop
    return ChatResponse(response.id, parts, stop, response.usage)


class AnswerToolParser:
    """A stream parser whose answer-tool deltas become text deltas."""

    def __init__(self, inner: StreamParser):
        self._inner = inner
        self._answer: int | None = None
        self._other_calls = False

    def feed(self, event: bytes) -> list[StreamDelta]:
        deltas: list[StreamDelta] = []
        for delta in self._inner.feed(event):
            if isinstance(delta, ToolCallStart):
                if delta.name == ANSWER_TOOL:
                    self._answer = delta.index
                    continue
                self._other_calls = True
            elif isinstance(delta, ToolArgumentsDelta) and delta.index == self._answer:
                delta = TextDelta(delta.fragment)
            elif isinstance(delta, Finish) and delta.stop == "tool_calls" and not self._other_calls:
                delta = Finish("stop")
            deltas.append(delta)
        return deltas
