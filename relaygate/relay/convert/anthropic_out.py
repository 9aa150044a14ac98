"""The internal representation as Anthropic Messages: upstream requests, client answers and events."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson

from relaygate.auth.credentials import Family
from relaygate.billing.charge import Usage
from relaygate.errors import GatewayError
from relaygate.relay.convert.ir import (
    ChatRequest,
    ChatResponse,
    Finish,
    Image,
    Message,
    Part,
    Start,
    StopReason,
    StreamDelta,
    Text,
    TextDelta,
    ToolArgumentsDelta,
    ToolCall,
    ToolCallStart,
    ToolResult,
    UsageReport,
)
from relaygate.relay.convert.structured import ANSWER_TOOL, answer_tool
from relaygate.relay.error_bodies import stream_error_event

DEFAULT_MAX_TOKENS = 4096  # Anthropic requires max_tokens; other protocols may leave it out
STOP_REASONS: dict[StopReason, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}


def render_request(request: ChatRequest, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": [render_message(message) for message in request.messages],
    }
    if request.system:
        body["system"] = request.system
    if request.tools or request.response_format is not None:
        body["tools"] = [
            {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}
            for tool in request.tools
        ]
        if request.response_format is not None:
            body["tools"].append(answer_tool(request.response_format))
            if not request.tools:
                request = replace(request, tool_choice=ANSWER_TOOL)
        choice: dict[str, Any] | None = None
        if request.tool_choice in ("auto", "required", "none"):
            choice = {"type": {"required": "any"}.get(request.tool_choice, request.tool_choice)}
        elif request.tool_choice is not None:
            choice = {"type": "tool", "name": request.tool_choice}
        if request.parallel_tool_calls is False and (choice or {}).get("type") != "none":
            choice = (choice or {"type": "auto"}) | {"disable_parallel_tool_use": True}
        if choice is not None:
            body["tool_choice"] = choice
    if request.user:
        body["metadata"] = {"user_id": request.user}
    optional = {"temperature": request.temperature, "top_p": request.top_p, "stop_sequences": request.stop or None}
    body |= {name: value for name, value in optional.items() if value is not None}
    if request.stream:
        body["stream"] = True
    return body


def render_message(message: Message) -> dict[str, Any]:
    # Anthropic wants a turn's tool results before anything else in it.
    parts = sorted(message.parts, key=lambda part: not isinstance(part, ToolResult))
    blocks = [block for block in map(render_block, parts) if block is not None]
    return {"role": message.role, "content": blocks}


def render_block(part: Part) -> dict[str, Any] | None:
    if isinstance(part, Text):
        return {"type": "text", "text": part.text} if part.text else None
    if isinstance(part, Image):
        if part.data:
            return {"type": "image", "source": {"type": "base64", "media_type": part.media_type, "data": part.data}}
        return {"type": "image", "source": {"type": "url", "url": part.url}}
    if isinstance(part, ToolCall):
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": _arguments(part.arguments)}
    block = {"type": "tool_result", "tool_use_id": part.call_id, "content": part.content}
    return block | {"is_error": True} if part.is_error else block


def _arguments(arguments: str) -> Any:
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def render_usage(usage: Usage) -> dict[str, Any]:
    written = usage.cache_write_5m + usage.cache_write_1h
    rendered: dict[str, Any] = {"input_tokens": usage.prompt - usage.cached - written}
    if written:  # only an answer from Anthropic has writes, and then by kind
        rendered["cache_creation_input_tokens"] = written
        rendered["cache_creation"] = {
            "ephemeral_5m_input_tokens": usage.cache_write_5m,
            "ephemeral_1h_input_tokens": usage.cache_write_1h,
        }
    return rendered | {"cache_read_input_tokens": usage.cached, "output_tokens": usage.completion}


def render_response(response: ChatResponse, model: str) -> dict[str, Any]:
    return {
        "id": _message_id(response.id),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [block for block in map(render_block, response.parts) if block is not None],
        "stop_reason": STOP_REASONS[response.stop],
        "stop_sequence": None,
        "usage": render_usage(response.usage),
    }


def _message_id(upstream_id: str) -> str:
    return upstream_id if upstream_id.startswith("msg_") else f"msg_{upstream_id}"


class StreamRenderer:
    """Deltas as Messages events: message_start, each block's start, deltas and stop, message_delta, message_stop."""

    def __init__(self, model: str):
        self._model = model
        self._started = False
        self._block = -1  # the index of the open content block
        self._open: str | None = None  # its kind: "text" or "tool_use"
        self._usage = Usage()
        self._stop: StopReason = "stop"

    def render(self, delta: StreamDelta) -> bytes:
        if isinstance(delta, Start):
            self._usage = delta.usage or self._usage
            return self._start(delta.id)
        head = b"" if self._started else self._start("")
        if isinstance(delta, TextDelta):
            opening = b"" if self._open == "text" else self._open_block({"type": "text", "text": ""})
            body = {"type": "text_delta", "text": delta.text}
            return head + opening + _event("content_block_delta", {"index": self._block, "delta": body})
        if isinstance(delta, ToolCallStart):
            return head + self._open_block({"type": "tool_use", "id": delta.id, "name": delta.name, "input": {}})
        if isinstance(delta, ToolArgumentsDelta) and self._open == "tool_use":
            body = {"type": "input_json_delta", "partial_json": delta.fragment}
            return head + _event("content_block_delta", {"index": self._block, "delta": body})
        if isinstance(delta, Finish):
            self._stop = delta.stop
            return head + self._close_block()
        if isinstance(delta, UsageReport):
            self._usage = delta.usage
        return head

    def close(self) -> bytes:
        head = b"" if self._started else self._start("")
        final = {
            "delta": {"stop_reason": STOP_REASONS[self._stop], "stop_sequence": None},
            "usage": render_usage(self._usage),
        }
        return head + self._close_block() + _event("message_delta", final) + _event("message_stop", {})

    def fail(self, error: GatewayError) -> bytes:
        return stream_error_event(Family.ANTHROPIC, error)

    def _start(self, upstream_id: str) -> bytes:
        self._started = True
        message: dict[str, Any] = {
            "id": _message_id(upstream_id),
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": render_usage(self._usage),
        }
        return _event("message_start", {"message": message})

    def _open_block(self, block: dict[str, Any]) -> bytes:
        closing = self._close_block()
        self._block += 1
        self._open = str(block["type"])
        return closing + _event("content_block_start", {"index": self._block, "content_block": block})

    def _close_block(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        return _event("content_block_stop", {"index": self._block})


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **data}) + b"\n\n"
