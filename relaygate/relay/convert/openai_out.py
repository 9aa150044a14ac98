"""The internal representation as OpenAI chat completions: upstream requests, client answers and chunks."""

from __future__ import annotations

import time
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
    ResponseFormat,
    Start,
    StreamDelta,
    Text,
    TextDelta,
    ToolArgumentsDelta,
    ToolCall,
    ToolCallStart,
    ToolResult,
    UsageReport,
    data_url,
)
from relaygate.relay.error_bodies import stream_error_event

DONE = b"data: [DONE]\n\n"


def _response_format(response_format: ResponseFormat | None) -> dict[str, Any] | None:
    if response_format is None:
        return None
    if response_format.schema is None:
        return {"type": "json_object"}
    return {
        "type": "json_schema",
        "json_schema": {"name": response_format.name or "answer", "schema": response_format.schema},
    }


def render_request(request: ChatRequest, model: str) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": request.system}] if request.system else []
    for message in request.messages:
        messages += render_message(message)
    body: dict[str, Any] = {"model": model, "messages": messages}
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
            }
            for tool in request.tools
        ]
    if request.tool_choice in ("auto", "none", "required"):
        body["tool_choice"] = request.tool_choice
    elif request.tool_choice is not None:
        body["tool_choice"] = {"type": "function", "function": {"name": request.tool_choice}}
    optional = {
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "stop": request.stop or None,
        "parallel_tool_calls": request.parallel_tool_calls if request.tools else None,
        "user": request.user or None,
        "response_format": _response_format(request.response_format),
    }
    body |= {name: value for name, value in optional.items() if value is not None}
    if request.stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return body


def render_message(message: Message) -> list[dict[str, Any]]:
    """One message, or several: each tool result is a `tool` message of its own."""
    results = [part for part in message.parts if isinstance(part, ToolResult)]
    rendered: list[dict[str, Any]] = [
        {"role": "tool", "tool_call_id": result.call_id, "content": result.content} for result in results
    ]
    calls = [part for part in message.parts if isinstance(part, ToolCall)]
    content = [_content_part(part) for part in message.parts if isinstance(part, Text | Image)]
    if message.role == "assistant":
        text = "".join(part["text"] for part in content if part["type"] == "text")
        answer: dict[str, Any] = {"role": "assistant", "content": text or None}
        if calls:
            answer["tool_calls"] = [_tool_call(call) for call in calls]
        return [*rendered, answer]
    if content:
        if all(part["type"] == "text" for part in content):
            rendered.append({"role": "user", "content": "".join(part["text"] for part in content)})
        else:
            rendered.append({"role": "user", "content": content})
    return rendered


def _content_part(part: Text | Image) -> dict[str, Any]:
    if isinstance(part, Text):
        return {"type": "text", "text": part.text}
    return {"type": "image_url", "image_url": {"url": data_url(part)}}


def _tool_call(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def render_usage(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt,
        "completion_tokens": usage.completion,
        "total_tokens": usage.prompt + usage.completion,
        "prompt_tokens_details": {"cached_tokens": usage.cached},
    }


def render_response(response: ChatResponse, model: str) -> dict[str, Any]:
    text = "".join(part.text for part in response.parts if isinstance(part, Text))
    calls = [part for part in response.parts if isinstance(part, ToolCall)]
    message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
    if calls:
        message["tool_calls"] = [_tool_call(call) for call in calls]
    return {
        "id": _chat_id(response.id),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": response.stop}],
        "usage": render_usage(response.usage),
    }


def _chat_id(upstream_id: str) -> str:
    return upstream_id if upstream_id.startswith("chatcmpl") else f"chatcmpl-{upstream_id}"


class StreamRenderer:
    """Deltas as chat completion chunks; the usage chunk only for a client that asked, then `[DONE]`."""

    def __init__(self, model: str, include_usage: bool):
        self._model = model
        self._include_usage = include_usage
        self._head: dict[str, Any] = {"id": "chatcmpl-", "object": "chat.completion.chunk", "created": 0}
        self._usage = Usage()
        self._finished = False

    def render(self, delta: StreamDelta) -> bytes:
        if isinstance(delta, Start):
            self._head = {
                "id": _chat_id(delta.id),
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": self._model,
            }
            self._usage = delta.usage or self._usage
            return self._chunk({"role": "assistant", "content": ""})
        if isinstance(delta, TextDelta):
            return self._chunk({"content": delta.text})
        if isinstance(delta, ToolCallStart):
            call = {"index": delta.index, "id": delta.id, "type": "function"}
            return self._chunk({"tool_calls": [call | {"function": {"name": delta.name, "arguments": ""}}]})
        if isinstance(delta, ToolArgumentsDelta):
            return self._chunk({"tool_calls": [{"index": delta.index, "function": {"arguments": delta.fragment}}]})
        if isinstance(delta, Finish):
            self._finished = True
            return self._chunk({}, delta.stop)
        if isinstance(delta, UsageReport):
            self._usage = delta.usage
        return b""

    def close(self) -> bytes:
        tail = b"" if self._finished else self._chunk({}, "stop")
        if self._include_usage:
            tail += _event(self._head | {"model": self._model, "choices": [], "usage": render_usage(self._usage)})
        return tail + DONE

    def fail(self, error: GatewayError) -> bytes:
        return stream_error_event(Family.OPENAI, error)

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        chunk = self._head | {"model": self._model, "choices": [choice]}
        if self._include_usage:
            chunk["usage"] = None
        return _event(chunk)


def _event(chunk: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"
