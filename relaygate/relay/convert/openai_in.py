"""OpenAI chat completions into the internal representation: client requests, upstream answers and chunks."""

from __future__ import annotations

from typing import Any

from relaygate.billing.charge import Usage
from relaygate.errors import BadRequest
from relaygate.relay.convert.ir import (
    ChatRequest,
    ChatResponse,
    Finish,
    Message,
    Part,
    ResponseFormat,
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
    parse_data_url,
    stop_with_calls,
)
from relaygate.relay.sse import event_json

STOP_REASONS: dict[str, StopReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


def refuse_unconvertible(body: dict[str, Any]) -> None:
    """Refuse (400) what a converted request could not honour and what changes the answer's meaning."""
    asked = {
        "n": isinstance(body.get("n"), int) and body["n"] > 1,
        "logprobs": body.get("logprobs") is True,
        "top_logprobs": isinstance(body.get("top_logprobs"), int) and body["top_logprobs"] > 0,
    }
    for name in (name for name, wanted in asked.items() if wanted):
        raise unconvertible(name, "an OpenAI")


def unconvertible(name: str, native: str) -> BadRequest:
    return BadRequest(
        f"'{name}' cannot be honoured for this model: it is served through another API protocol, which has no "
        f"such option. Leave '{name}' out, or use a model served by {native} channel.",
        code="unsupported_parameter",
        param=name,
    )


def parse_request(body: dict[str, Any]) -> ChatRequest:
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise BadRequest("'messages' must be an array of messages.", param="messages")
    system: list[str] = []
    parsed: list[Message] = []
    names: dict[str, str] = {}
    for message in messages:
        if not isinstance(message, dict):
            raise BadRequest("Each message must be an object.", param="messages")
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(content_text(message.get("content")))
        elif role == "assistant":
            parts = assistant_parts(message)
            names |= {part.id: part.name for part in parts if isinstance(part, ToolCall)}
            _append(parsed, Message("assistant", parts))
        elif role == "tool":
            call_id = str(message.get("tool_call_id") or "")
            result = ToolResult(call_id, names.get(call_id, ""), content_text(message.get("content")))
            _append(parsed, Message("user", [result]))
        else:
            _append(parsed, Message("user", content_parts(message.get("content"))))
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    stop = body.get("stop")
    options = body.get("stream_options")
    return ChatRequest(
        messages=parsed,
        system="\n\n".join(text for text in system if text),
        tools=[tool for tool in map(_tool, body.get("tools") or ()) if tool is not None],
        tool_choice=_tool_choice(body.get("tool_choice")),
        max_tokens=max_tokens if isinstance(max_tokens, int) else None,
        temperature=_number(body.get("temperature")),
        top_p=_number(body.get("top_p")),
        stop=[stop] if isinstance(stop, str) else [s for s in stop or () if isinstance(s, str)],
        stream=body.get("stream") is True,
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
        parallel_tool_calls=parallel if isinstance(parallel := body.get("parallel_tool_calls"), bool) else None,
        user=str(body["user"]) if isinstance(body.get("user"), str) else "",
        response_format=_response_format(body.get("response_format")),
    )


def _response_format(value: Any) -> ResponseFormat | None:
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "json_object":
        return ResponseFormat()
    if kind != "json_schema":
        return None
    spec = as_object(value.get("json_schema"))
    schema = spec.get("schema")
    return ResponseFormat(schema if isinstance(schema, dict) else None, str(spec.get("name") or ""))


def _append(messages: list[Message], message: Message) -> None:
    """Consecutive messages of one role merge: tool results follow each other as one user turn."""
    if messages and messages[-1].role == message.role:
        messages[-1].parts.extend(message.parts)
    else:
        messages.append(message)


def content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    texts = [part.get("text") for part in content or () if isinstance(part, dict)]
    return "".join(text for text in texts if isinstance(text, str))


def content_parts(content: Any) -> list[Part]:
    if isinstance(content, str):
        return [Text(content)]
    parts: list[Part] = []
    for part in content or ():
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            parts.append(Text(part["text"]))
        elif part.get("type") == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if isinstance(url, str):
                parts.append(parse_data_url(url))
    return parts


def assistant_parts(message: dict[str, Any]) -> list[Part]:
    parts = content_parts(message.get("content"))
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            arguments = function.get("arguments")
            parts.append(ToolCall(str(call.get("id") or ""), str(function.get("name") or ""), arguments or "{}"))
    return parts


def _tool(tool: Any) -> Tool | None:
    function = tool.get("function") if isinstance(tool, dict) and tool.get("type") == "function" else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        return None
    parameters = function.get("parameters")
    return Tool(
        function["name"],
        str(function.get("description") or ""),
        parameters if isinstance(parameters, dict) else {"type": "object", "properties": {}},
    )


def _tool_choice(choice: Any) -> ToolChoice | None:
    if choice in ("auto", "none", "required"):
        return str(choice)
    function = choice.get("function") if isinstance(choice, dict) else None
    if isinstance(function, dict) and isinstance(function.get("name"), str):
        return str(function["name"])
    return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_usage(usage: Any) -> Usage | None:
    if not isinstance(usage, dict):
        return None
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else 0
    return Usage(_int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens")), _int(cached))


def parse_response(data: dict[str, Any]) -> ChatResponse:
    choices = data.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
    message = choice.get("message")
    parts = assistant_parts(message) if isinstance(message, dict) else []
    return ChatResponse(
        id=str(data.get("id") or ""),
        parts=parts,
        stop=stop_with_calls(
            STOP_REASONS.get(str(choice.get("finish_reason")), "stop"), any(isinstance(p, ToolCall) for p in parts)
        ),
        usage=parse_usage(data.get("usage")) or Usage(),
    )


class StreamParser:
    """Chat completion chunks into deltas."""

    def __init__(self) -> None:
        self._started = False
        self._calls: set[int] = set()

    def feed(self, event: bytes) -> list[StreamDelta]:
        data = event_json(event)
        if data is None:
            return []
        deltas: list[StreamDelta] = []
        if not self._started:
            self._started = True
            deltas.append(Start(str(data.get("id") or "")))
        choices = data.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                deltas += self._choice_deltas(choice)
        usage = parse_usage(data.get("usage"))
        if usage is not None:
            deltas.append(UsageReport(usage))
        return deltas

    def _choice_deltas(self, choice: dict[str, Any]) -> list[StreamDelta]:
        deltas: list[StreamDelta] = []
        delta = choice.get("delta")
        delta = delta if isinstance(delta, dict) else {}
        if isinstance(delta.get("content"), str) and delta["content"]:
            deltas.append(TextDelta(delta["content"]))
        for call in delta.get("tool_calls") or ():
            if not isinstance(call, dict):
                continue
            index = _int(call.get("index"))
            function = as_object(call.get("function"))
            if index not in self._calls:
                self._calls.add(index)
                deltas.append(ToolCallStart(index, str(call.get("id") or ""), str(function.get("name") or "")))
            if function.get("arguments"):
                deltas.append(ToolArgumentsDelta(index, str(function["arguments"])))
        if choice.get("finish_reason"):
            stop = STOP_REASONS.get(str(choice["finish_reason"]), "stop")
            deltas.append(Finish(stop_with_calls(stop, bool(self._calls))))
        return deltas


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
