"""The internal representation as OpenAI Responses: client answers, the event sequence, upstream requests.

A stream is the documented sequence, every event with its `sequence_number`: `response.created`,
`response.in_progress`; per output item `response.output_item.added`, then for a message
`response.content_part.added`, `response.output_text.delta`..., `response.output_text.done`,
`response.content_part.done`, for a function call `response.function_call_arguments.delta`...,
`response.function_call_arguments.done`; `response.output_item.done`; and last `response.completed`
(`response.incomplete` when the output limit or a filter cut the answer) with the usage. A stream
the upstream breaks off ends as a failed response does: `response.failed`, the response with status
"failed", its `error` and the usage billed, the item being written left "incomplete".
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import orjson

from relaygate.billing.charge import Usage
from relaygate.errors import GatewayError
from relaygate.relay.convert.ir import (
    ChatRequest,
    ChatResponse,
    Finish,
    Image,
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
    data_url,
)
from relaygate.relay.error_bodies import failed_response

INCOMPLETE: dict[StopReason, str] = {"length": "max_output_tokens", "content_filter": "content_filter"}


def render_usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt,
        "input_tokens_details": {"cached_tokens": usage.cached},
        "output_tokens": usage.completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.prompt + usage.completion,
    }


def response_object(
    response_id: str, model: str, request: ChatRequest, output: list[dict[str, Any]], stop: StopReason | None
) -> dict[str, Any]:
    """The response object; `stop` None while it is in progress, and then without usage."""
    status = "in_progress" if stop is None else "incomplete" if stop in INCOMPLETE else "completed"
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": {"reason": INCOMPLETE[stop]} if stop in INCOMPLETE else None,
        "instructions": request.system or None,
        "max_output_tokens": request.max_tokens,
        "model": model,
        "output": output,
        "parallel_tool_calls": request.parallel_tool_calls is not False,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "tool_choice": _tool_choice(request),
        "tools": [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters,
                "strict": False,
            }
            for t in request.tools
        ],
        "text": {"format": {"type": "text"}},
        "metadata": {},
        "usage": None,
    }


def _tool_choice(request: ChatRequest) -> Any:
    if request.tool_choice is None or request.tool_choice in ("auto", "none", "required"):
        return request.tool_choice or "auto"
    return {"type": "function", "name": request.tool_choice}


def _response_id(upstream_id: str) -> str:
    return upstream_id if upstream_id.startswith("resp_") else f"resp_{upstream_id or secrets.token_hex(12)}"


def _item_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    content = [output_text(text)] if status == "completed" else []
    return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": content}


def output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def function_item(item_id: str, call_id: str, name: str, arguments: str, status: str = "completed") -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def render_response(response: ChatResponse, model: str, request: ChatRequest | None = None) -> dict[str, Any]:
    output: list[dict[str, Any]] = []
    text = "".join(part.text for part in response.parts if isinstance(part, Text))
    if text:
        output.append(message_item(_item_id("msg"), text))
    for call in (part for part in response.parts if isinstance(part, ToolCall)):
        output.append(function_item(_item_id("fc"), call.id, call.name, call.arguments))
    rendered = response_object(_response_id(response.id), model, request or ChatRequest([]), output, response.stop)
    return rendered | {"usage": render_usage(response.usage)}


class StreamRenderer:
    """Deltas as the Responses event sequence; the last event carries the whole response and its usage."""

    def __init__(self, request: ChatRequest, model: str):
        self._request = request
        self._model = model
        self._id = ""
        self._sequence = 0
        self._output: list[dict[str, Any]] = []  # the items done
        self._open: dict[str, Any] | None = None  # the item being written
        self._written = ""  # the text of the open message item so far
        self._usage = Usage()
        self._stop: StopReason = "stop"

    def render(self, delta: StreamDelta) -> bytes:
        if isinstance(delta, Start):
            self._usage = delta.usage or self._usage
            return self._start(delta.id)
        head = b"" if self._id else self._start("")
        if isinstance(delta, TextDelta):
            return head + self._text(delta.text)
        if isinstance(delta, ToolCallStart):
            item = function_item(_item_id("fc"), delta.id, delta.name, "", "in_progress")
            return head + self._open_item(item)
        if isinstance(delta, ToolArgumentsDelta) and self._open is not None and self._open["type"] == "function_call":
            self._open["arguments"] += delta.fragment
            return head + self._event(
                "response.function_call_arguments.delta",
                {"item_id": self._open["id"], "output_index": len(self._output), "delta": delta.fragment},
            )
        if isinstance(delta, Finish):
            self._stop = delta.stop
            return head + self._close_item()
        if isinstance(delta, UsageReport):
            self._usage = delta.usage
        return head

    def close(self) -> bytes:
        head = b"" if self._id else self._start("")
        final = response_object(self._id, self._model, self._request, self._output, self._stop)
        final["usage"] = render_usage(self._usage)
        kind = "response.incomplete" if self._stop in INCOMPLETE else "response.completed"
        return head + self._close_item() + self._event(kind, {"response": final})

    def fail(self, error: GatewayError) -> bytes:
        head = b"" if self._id else self._start("")
        output = [*self._output, *([self._incomplete_item()] if self._open is not None else [])]
        response = response_object(self._id, self._model, self._request, output, self._stop)
        failed = failed_response(response | {"usage": render_usage(self._usage)}, error)
        return head + self._event("response.failed", {"response": failed})

    def _incomplete_item(self) -> dict[str, Any]:
        """The item being written when the stream broke off, with what it has so far."""
        assert self._open is not None
        if self._open["type"] == "message":
            return message_item(self._open["id"], self._written) | {"status": "incomplete"}
        return self._open | {"status": "incomplete"}

    def _start(self, upstream_id: str) -> bytes:
        self._id = _response_id(upstream_id)
        response = response_object(self._id, self._model, self._request, [], None)
        return self._event("response.created", {"response": response}) + self._event(
            "response.in_progress", {"response": response}
        )

    def _text(self, text: str) -> bytes:
        opening = b""
        if self._open is None or self._open["type"] != "message":
            opening = self._open_item(message_item(_item_id("msg"), "", "in_progress"))
            opening += self._event("response.content_part.added", self._at_part() | {"part": output_text("")})
            self._written = ""
        self._written += text
        return opening + self._event("response.output_text.delta", self._at_part() | {"delta": text, "logprobs": []})

    def _at_part(self) -> dict[str, Any]:
        item_id = self._open["id"] if self._open is not None else ""
        return {"item_id": item_id, "output_index": len(self._output), "content_index": 0}

    def _open_item(self, item: dict[str, Any]) -> bytes:
        closing = self._close_item()
        self._open = item
        return closing + self._event("response.output_item.added", {"output_index": len(self._output), "item": item})

    def _close_item(self) -> bytes:
        item, self._open = self._open, None
        if item is None:
            return b""
        index = len(self._output)
        if item["type"] == "message":
            text = self._written
            at = {"item_id": item["id"], "output_index": index, "content_index": 0}
            done = message_item(item["id"], text)
            events = self._event("response.output_text.done", at | {"text": text, "logprobs": []})
            events += self._event("response.content_part.done", at | {"part": output_text(text)})
        else:
            done = item | {"status": "completed"}
            at = {"item_id": item["id"], "output_index": index}
            events = self._event("response.function_call_arguments.done", at | {"arguments": item["arguments"]})
        self._output.append(done)
        return events + self._event("response.output_item.done", {"output_index": index, "item": done})

    def _event(self, kind: str, data: dict[str, Any]) -> bytes:
        body = {"type": kind, "sequence_number": self._sequence, **data}
        self._sequence += 1
        return f"event: {kind}\ndata: ".encode() + orjson.dumps(body) + b"\n\n"


def render_request(request: ChatRequest, model: str) -> dict[str, Any]:
    """A Responses request for the IR (the request an OpenAI Responses upstream would take)."""
    items: list[dict[str, Any]] = []
    for message in request.messages:
        content = [_content_part(part, message.role) for part in message.parts if isinstance(part, Text | Image)]
        if content:
            items.append({"type": "message", "role": message.role, "content": content})
        items += [_call_item(part) for part in message.parts if isinstance(part, ToolCall | ToolResult)]
    body: dict[str, Any] = {"model": model, "input": items}
    if request.tools:
        body["tools"] = [
            {"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters}
            for t in request.tools
        ]
    if request.tool_choice is not None:
        body["tool_choice"] = _tool_choice(request)
    optional = {
        "instructions": request.system or None,
        "max_output_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "parallel_tool_calls": request.parallel_tool_calls if request.tools else None,
        "user": request.user or None,
        "stream": True if request.stream else None,
    }
    return body | {name: value for name, value in optional.items() if value is not None}


def _content_part(part: Text | Image, role: str) -> dict[str, Any]:
    if isinstance(part, Text):
        return {"type": "output_text" if role == "assistant" else "input_text", "text": part.text}
    return {"type": "input_image", "image_url": data_url(part)}


def _call_item(part: Part) -> dict[str, Any]:
    if isinstance(part, ToolCall):
        return {"type": "function_call", "call_id": part.id, "name": part.name, "arguments": part.arguments}
    assert isinstance(part, ToolResult)
    return {"type": "function_call_output", "call_id": part.call_id, "output": part.content}
