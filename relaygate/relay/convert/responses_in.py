"""OpenAI Responses (`POST /v1/responses`) into the internal representation: client requests, answers, events.

A Responses request is a chat in other words: `instructions` is the system text, `input` a string or a
list of items (messages, `function_call` and `function_call_output` items), `tools` function tools.
What only OpenAI keeps (a stored conversation by `previous_response_id`, built-in tools such as
`web_search`) cannot be converted and is refused, naming the field.
"""

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
from relaygate.relay.convert.openai_in import unconvertible
from relaygate.relay.sse import event_json

NATIVE = "an OpenAI"
STORED_STATE = ("previous_response_id", "conversation", "prompt")  # answers that depend on what OpenAI keeps
ITEMS = ("message", "function_call", "function_call_output")
TEXT_PARTS = ("input_text", "output_text", "refusal")
TERMINAL = ("response.completed", "response.incomplete", "response.failed")


def refuse_unconvertible(body: dict[str, Any]) -> None:
    """Refuse (400) what another protocol's channel could not honour and what changes the answer's meaning."""
    for name in STORED_STATE:
        if body.get(name) is not None:
            raise unconvertible(name, NATIVE)
    asked = {
        "background": body.get("background") is True,
        "include": bool(body.get("include")),
        "top_logprobs": isinstance(body.get("top_logprobs"), int) and body["top_logprobs"] > 0,
    }
    for name in (name for name, wanted in asked.items() if wanted):
        raise unconvertible(name, NATIVE)
    for tool in body.get("tools") or ():
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind != "function":
            raise BadRequest(
                f"The built-in tool {str(kind)[:40]!r} cannot be used with this model: it is served through "
                f"another API protocol. Give only function tools, or use a model served by {NATIVE} channel.",
                code="unsupported_parameter",
                param="tools",
            )
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") != "function":
        raise unconvertible("tool_choice", NATIVE)
    items = body.get("input")
    for item in items if isinstance(items, list) else ():
        _refuse_item(as_object(item))


def _refuse_item(item: dict[str, Any]) -> None:
    kind = item.get("type", "message")
    if kind not in ITEMS:
        raise BadRequest(
            f"The input item type {str(kind)[:40]!r} cannot be converted for this model: it is served through "
            f"another API protocol. Send message, function_call and function_call_output items only.",
            code="unsupported_parameter",
            param="input",
        )
    content = item.get("content") if kind == "message" else item.get("output")
    for part in map(as_object, content if isinstance(content, list) else ()):
        image = part.get("type") == "input_image" and isinstance(part.get("image_url"), str)
        if part.get("type") not in TEXT_PARTS and not image:
            raise BadRequest(
                f"The content part type {str(part.get('type'))[:40]!r} cannot be converted for this model (it is "
                "served through another API protocol): send input_text, or input_image with an image_url.",
                code="unsupported_parameter",
                param="input",
            )


def parse_request(body: dict[str, Any]) -> ChatRequest:
    instructions = body.get("instructions")
    system = [instructions] if isinstance(instructions, str) and instructions else []
    messages: list[Message] = []
    for item in _input_items(body.get("input")):
        _add_item(item, messages, system)
    max_tokens = body.get("max_output_tokens")
    text = as_object(body.get("text"))
    return ChatRequest(
        messages=messages,
        system="\n\n".join(system),
        tools=[_tool(tool) for tool in body.get("tools") or () if as_object(tool).get("type") == "function"],
        tool_choice=_tool_choice(body.get("tool_choice")),
        max_tokens=max_tokens if isinstance(max_tokens, int) else None,
        temperature=_number(body.get("temperature")),
        top_p=_number(body.get("top_p")),
        stream=body.get("stream") is True,
        parallel_tool_calls=parallel if isinstance(parallel := body.get("parallel_tool_calls"), bool) else None,
        user=str(body["user"]) if isinstance(body.get("user"), str) else "",
        response_format=_response_format(text.get("format")),
    )


def _input_items(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise BadRequest("'input' must be a string or an array of input items (objects).", param="input")
    return value


def _add_item(item: dict[str, Any], messages: list[Message], system: list[str]) -> None:
    kind = item.get("type", "message")
    if kind == "message":
        role = item.get("role")
        if role in ("system", "developer"):
            system.append("".join(part.text for part in _content(item.get("content")) if isinstance(part, Text)))
        elif role in ("user", "assistant"):
            _append(messages, Message(role, _content(item.get("content"))))
        else:
            raise BadRequest(
                f"An input message's 'role' must be user, assistant, system or developer, not {str(role)[:40]!r}.",
                param="input",
            )
    elif kind == "function_call":
        call = ToolCall(str(item.get("call_id") or ""), str(item.get("name") or ""), str(item.get("arguments") or "{}"))
        _append(messages, Message("assistant", [call]))
    elif kind == "function_call_output":
        call_id = str(item.get("call_id") or "")
        names = {part.id: part.name for m in messages for part in m.parts if isinstance(part, ToolCall)}
        output = item.get("output")
        content = output if isinstance(output, str) else _text_of(_content(output))
        _append(messages, Message("user", [ToolResult(call_id, names.get(call_id, ""), content)]))


def _append(messages: list[Message], message: Message) -> None:
    """Consecutive items of one role merge: a call's text and its function calls are one assistant turn."""
    if messages and messages[-1].role == message.role:
        messages[-1].parts.extend(message.parts)
    else:
        messages.append(message)


def _content(content: Any) -> list[Part]:
    if isinstance(content, str):
        return [Text(content)]
    parts: list[Part] = []
    for part in map(as_object, content if isinstance(content, list) else ()):
        kind = part.get("type")
        if kind in ("input_text", "output_text") and isinstance(part.get("text"), str):
            parts.append(Text(part["text"]))
        elif kind == "input_image" and isinstance(part.get("image_url"), str):
            parts.append(parse_data_url(part["image_url"]))
    return parts


def _text_of(parts: list[Part]) -> str:
    return "".join(part.text for part in parts if isinstance(part, Text))


def _tool(tool: Any) -> Tool:
    if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
        raise BadRequest("Each function tool needs a 'name'.", param="tools")
    parameters = tool.get("parameters")
    return Tool(
        tool["name"],
        str(tool.get("description") or ""),
        parameters if isinstance(parameters, dict) else {"type": "object", "properties": {}},
    )


def _tool_choice(choice: Any) -> ToolChoice | None:
    if choice in ("auto", "none", "required"):
        return str(choice)
    if isinstance(choice, dict) and isinstance(choice.get("name"), str):
        return str(choice["name"])
    return None


def _response_format(value: Any) -> ResponseFormat | None:
    spec = as_object(value)
    if spec.get("type") == "json_object":
        return ResponseFormat()
    if spec.get("type") != "json_schema":
        return None
    schema = spec.get("schema")
    return ResponseFormat(schema if isinstance(schema, dict) else None, str(spec.get("name") or ""))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_usage(usage: Any) -> Usage | None:
    if not isinstance(usage, dict):
        return None
    cached = as_object(usage.get("input_tokens_details")).get("cached_tokens")
    return Usage(_int(usage.get("input_tokens")), _int(usage.get("output_tokens")), _int(cached))


def _stop(response: dict[str, Any], calls: bool) -> StopReason:
    reason = as_object(response.get("incomplete_details")).get("reason")
    if response.get("status") == "incomplete":
        return "content_filter" if reason == "content_filter" else "length"
    return stop_with_calls("stop", calls)


def output_parts(output: Any) -> list[Part]:
    parts: list[Part] = []
    for item in output if isinstance(output, list) else ():
        if not isinstance(item, dict):
            continue
        if item.get("type") == "message":
            parts += [part for part in _content(item.get("content")) if isinstance(part, Text)]
        elif item.get("type") == "function_call":
            parts.append(
                ToolCall(
                    str(item.get("call_id") or ""), str(item.get("name") or ""), str(item.get("arguments") or "{}")
                )
            )
    return parts


def parse_response(data: dict[str, Any]) -> ChatResponse:
    parts = output_parts(data.get("output"))
    return ChatResponse(
        id=str(data.get("id") or ""),
        parts=parts,
        stop=_stop(data, any(isinstance(part, ToolCall) for part in parts)),
        usage=parse_usage(data.get("usage")) or Usage(),
    )


class StreamParser:
    """Responses events into deltas."""

    def __init__(self) -> None:
        self._calls: dict[str, int] = {}  # function_call item id -> its index among the answer's calls

    def feed(self, event: bytes) -> list[StreamDelta]:
        data = event_json(event)
        kind = data.get("type") if data is not None else None
        if data is None:
            return []
        if kind == "response.created":
            return [Start(str(as_object(data.get("response")).get("id") or ""))]
        if kind == "response.output_text.delta" and data.get("delta"):
            return [TextDelta(str(data["delta"]))]
        item = as_object(data.get("item"))
        if kind == "response.output_item.added" and item.get("type") == "function_call":
            index = self._calls.setdefault(str(item.get("id") or ""), len(self._calls))
            return [ToolCallStart(index, str(item.get("call_id") or ""), str(item.get("name") or ""))]
        if kind == "response.function_call_arguments.delta" and data.get("delta"):
            index = self._calls.get(str(data.get("item_id") or ""), 0)
            return [ToolArgumentsDelta(index, str(data["delta"]))]
        if kind in TERMINAL:
            response = as_object(data.get("response"))
            usage = parse_usage(response.get("usage"))
            finish: list[StreamDelta] = [Finish(_stop(response, bool(self._calls)))]
            return ([UsageReport(usage)] if usage is not None else []) + finish
        return []


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
