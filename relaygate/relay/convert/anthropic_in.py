"""Anthropic Messages into the internal representation: client requests, upstream answers and events."""

from __future__ import annotations

from typing import Any

import orjson

from relaygate.billing.charge import Usage
from relaygate.errors import BadRequest
from relaygate.relay.anthropic.adapter import usage_from
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
    Tool,
    ToolArgumentsDelta,
    ToolCall,
    ToolCallStart,
    ToolChoice,
    ToolResult,
    UsageReport,
    as_object,
    tool_names_by_id,
)
from relaygate.relay.sse import event_json

STOP_REASONS: dict[str, StopReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def parse_request(body: dict[str, Any]) -> ChatRequest:
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise BadRequest("messages: Input should be a valid list", param="messages")
    parsed = [
        Message("assistant" if message.get("role") == "assistant" else "user", blocks_parts(message.get("content")))
        for message in messages
        if isinstance(message, dict)
    ]
    names = tool_names_by_id(parsed)
    for message in parsed:
        message.parts = [
            ToolResult(part.call_id, names.get(part.call_id, ""), part.content, part.is_error)
            if isinstance(part, ToolResult)
            else part
            for part in message.parts
        ]
    stop = body.get("stop_sequences")
    return ChatRequest(
        messages=parsed,
        system=blocks_text(body.get("system")),
        tools=[tool for tool in map(_tool, body.get("tools") or ()) if tool is not None],
        tool_choice=_tool_choice(body.get("tool_choice")),
        max_tokens=body["max_tokens"] if isinstance(body.get("max_tokens"), int) else None,
        temperature=_number(body.get("temperature")),
        top_p=_number(body.get("top_p")),
        stop=[s for s in stop if isinstance(s, str)] if isinstance(stop, list) else [],
        stream=body.get("stream") is True,
        parallel_tool_calls=False if as_object(body.get("tool_choice")).get("disable_parallel_tool_use") else None,
        user=str(user) if isinstance(user := as_object(body.get("metadata")).get("user_id"), str) else "",
    )


def blocks_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    texts = [block.get("text") for block in content or () if isinstance(block, dict)]
    return "\n".join(text for text in texts if isinstance(text, str))


def blocks_parts(content: Any) -> list[Part]:
    if isinstance(content, str):
        return [Text(content)]
    parts: list[Part] = []
    for block in content or ():
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append(Text(str(block.get("text") or "")))
        elif kind == "image":
            parts.append(_image(block.get("source")))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            parts.append(ToolCall(str(block.get("id") or ""), str(block.get("name") or ""), arguments))
        elif kind == "tool_result":
            content_text = blocks_text(block.get("content"))
            parts.append(
                ToolResult(str(block.get("tool_use_id") or ""), "", content_text, block.get("is_error") is True)
            )
    return parts


def _image(source: Any) -> Image:
    if not isinstance(source, dict):
        return Image()
    if source.get("type") == "url":
        return Image(url=str(source.get("url") or ""))
    return Image(media_type=str(source.get("media_type") or ""), data=str(source.get("data") or ""))


def _tool(tool: Any) -> Tool | None:
    if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
        return None
    schema = tool.get("input_schema")
    return Tool(tool["name"], str(tool.get("description") or ""), schema if isinstance(schema, dict) else {})


def _tool_choice(choice: Any) -> ToolChoice | None:
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "tool" and isinstance(choice.get("name"), str):
        return str(choice["name"])
    return {"auto": "auto", "any": "required", "none": "none"}.get(str(kind))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_usage(usage: Any) -> Usage | None:
    """Anthropic's `input_tokens` leaves out the cache: the prompt adds cache reads and writes."""
    if not isinstance(usage, dict):
        return None
    return usage_from(usage, {})


def parse_response(data: dict[str, Any]) -> ChatResponse:
    return ChatResponse(
        id=str(data.get("id") or ""),
        parts=blocks_parts(data.get("content")),
        stop=STOP_REASONS.get(str(data.get("stop_reason")), "stop"),
        usage=parse_usage(data.get("usage")) or Usage(),
    )


class StreamParser:
    """Messages stream events into deltas; tool-use blocks are numbered in order of appearance."""

    def __init__(self) -> None:
        self._tool_index: dict[int, int] = {}  # content block index -> tool call index
        self._input = Usage()

    def feed(self, event: bytes) -> list[StreamDelta]:
        data = event_json(event)
        kind = data.get("type") if data is not None else None
        if data is None or not isinstance(kind, str):
            return []
        if kind == "message_start":
            message = as_object(data.get("message"))
            self._input = parse_usage(message.get("usage")) or Usage()
            return [Start(str(message.get("id") or ""), self._input), UsageReport(self._input)]
        if kind == "content_block_start":
            return self._block_start(data)
        if kind == "content_block_delta":
            return self._block_delta(data)
        if kind == "message_delta":
            return self._message_delta(data)
        return []

    def _block_start(self, data: dict[str, Any]) -> list[StreamDelta]:
        block = data.get("content_block")
        if not isinstance(block, dict):
            return []
        if block.get("type") == "tool_use":
            index = self._tool_index[_int(data.get("index"))] = len(self._tool_index)
            return [ToolCallStart(index, str(block.get("id") or ""), str(block.get("name") or ""))]
        text = block.get("text")
        return [TextDelta(text)] if isinstance(text, str) and text else []

    def _block_delta(self, data: dict[str, Any]) -> list[StreamDelta]:
        delta = data.get("delta")
        if not isinstance(delta, dict):
            return []
        if delta.get("type") == "text_delta" and delta.get("text"):
            return [TextDelta(str(delta["text"]))]
        index = self._tool_index.get(_int(data.get("index")))
        if delta.get("type") == "input_json_delta" and index is not None and delta.get("partial_json"):
            return [ToolArgumentsDelta(index, str(delta["partial_json"]))]
        return []

    def _message_delta(self, data: dict[str, Any]) -> list[StreamDelta]:
        deltas: list[StreamDelta] = []
        delta = data.get("delta")
        if isinstance(delta, dict) and delta.get("stop_reason"):
            deltas.append(Finish(STOP_REASONS.get(str(delta["stop_reason"]), "stop")))
        usage = data.get("usage")
        if isinstance(usage, dict):
            merged = {**_usage_fields(self._input), **{k: v for k, v in usage.items() if v is not None}}
            deltas.append(UsageReport(parse_usage(merged) or self._input))
        return deltas


def _usage_fields(usage: Usage) -> dict[str, int]:
    return {"input_tokens": usage.prompt - usage.cached, "cache_read_input_tokens": usage.cached}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
