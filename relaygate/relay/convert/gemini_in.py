"""Gemini generateContent into the internal representation: client requests, upstream answers and chunks."""

from __future__ import annotations

from typing import Any

import orjson

from relaygate.billing.charge import Usage
from relaygate.errors import BadRequest
from relaygate.relay.convert.gemini_schema import PLAIN_MIME_TYPES, json_schema, response_format
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
    stop_with_calls,
)
from relaygate.relay.convert.openai_in import unconvertible
from relaygate.relay.gemini.casing import field, object_field
from relaygate.relay.sse import event_json

FINISH_REASONS: dict[str, StopReason] = {"STOP": "stop", "MAX_TOKENS": "length"}  # the rest are refusals


class CallIds:
    """Ids for function calls that came without one, and the id each function response answers."""

    def __init__(self) -> None:
        self._count = 0
        self._pending: dict[str, list[str]] = {}

    def call(self, name: str, given: Any) -> str:
        self._count += 1
        call_id = str(given) if given else f"call_{self._count}_{name}"
        self._pending.setdefault(name, []).append(call_id)
        return call_id

    def answer(self, name: str, given: Any) -> str:
        pending = self._pending.get(name) or []
        if given:
            if given in pending:
                pending.remove(given)
            return str(given)
        return pending.pop(0) if pending else f"call_{name}"


def refuse_unconvertible(body: dict[str, Any]) -> None:
    """Refuse (400) what a converted request could not honour and what changes the answer's meaning."""
    config = object_field(body, "generationConfig")
    count = field(config, "candidateCount")
    if isinstance(count, int) and count > 1:
        raise unconvertible("generationConfig.candidateCount", "a Gemini")
    if field(config, "responseLogprobs") is True:
        raise unconvertible("generationConfig.responseLogprobs", "a Gemini")
    mime_type = field(config, "responseMimeType")
    if mime_type is not None and mime_type not in PLAIN_MIME_TYPES:
        raise unconvertible("generationConfig.responseMimeType", "a Gemini")


def parse_request(body: dict[str, Any]) -> ChatRequest:
    contents = body.get("contents")
    if not isinstance(contents, list):
        raise BadRequest("* GenerateContentRequest.contents: contents is not specified", param="contents")
    ids = CallIds()
    messages = [
        Message("assistant" if content.get("role") == "model" else "user", content_parts(content, ids))
        for content in contents
        if isinstance(content, dict)
    ]
    config = object_field(body, "generationConfig")
    stop = field(config, "stopSequences")
    return ChatRequest(
        messages=messages,
        system="\n".join(
            part.text for part in content_parts(field(body, "systemInstruction"), ids) if isinstance(part, Text)
        ),
        tools=[tool for group in body.get("tools") or () for tool in _tools(group)],
        tool_choice=_tool_choice(field(body, "toolConfig")),
        max_tokens=limit if isinstance(limit := field(config, "maxOutputTokens"), int) else None,
        temperature=_number(config.get("temperature")),
        top_p=_number(field(config, "topP")),
        stop=[s for s in stop if isinstance(s, str)] if isinstance(stop, list) else [],
        response_format=response_format(config),
    )


def content_parts(content: Any, ids: CallIds) -> list[Part]:
    raw = content.get("parts") if isinstance(content, dict) else None
    parts: list[Part] = []
    for part in raw if isinstance(raw, list) else ():
        if not isinstance(part, dict) or part.get("thought") is True:
            continue
        if isinstance(part.get("text"), str):
            parts.append(Text(part["text"]))
        elif inline := object_field(part, "inlineData"):
            parts.append(Image(media_type=str(field(inline, "mimeType") or ""), data=str(inline.get("data") or "")))
        elif file := object_field(part, "fileData"):
            parts.append(Image(media_type=str(field(file, "mimeType") or ""), url=str(field(file, "fileUri") or "")))
        elif call := object_field(part, "functionCall"):
            name = str(call.get("name") or "")
            parts.append(ToolCall(ids.call(name, call.get("id")), name, orjson.dumps(call.get("args") or {}).decode()))
        elif answer := object_field(part, "functionResponse"):
            name = str(answer.get("name") or "")
            parts.append(ToolResult(ids.answer(name, answer.get("id")), name, response_text(answer.get("response"))))
    return parts


def response_text(response: Any) -> str:
    """A function's response as text: its lone `result`/`output` string, else the JSON."""
    if isinstance(response, dict) and len(response) == 1:
        [value] = response.values()
        if isinstance(value, str) and next(iter(response)) in ("result", "output", "content"):
            return value
    return orjson.dumps(response).decode()


def _tools(group: Any) -> list[Tool]:
    declarations = field(group, "functionDeclarations") if isinstance(group, dict) else None
    tools = []
    for declaration in declarations if isinstance(declarations, list) else ():
        if isinstance(declaration, dict) and isinstance(declaration.get("name"), str):
            schema = field(declaration, "parametersJsonSchema")  # JSON Schema already, kept as it is
            if not isinstance(schema, dict) and isinstance(declaration.get("parameters"), dict):
                schema = json_schema(declaration["parameters"])
            parameters = schema if isinstance(schema, dict) else {"type": "object", "properties": {}}
            tools.append(Tool(declaration["name"], str(declaration.get("description") or ""), parameters))
    return tools


def _tool_choice(config: Any) -> ToolChoice | None:
    calling = field(config, "functionCallingConfig") if isinstance(config, dict) else None
    if not isinstance(calling, dict):
        return None
    mode = str(calling.get("mode") or "").upper()
    allowed = field(calling, "allowedFunctionNames")
    if mode == "ANY" and isinstance(allowed, list) and len(allowed) == 1 and isinstance(allowed[0], str):
        return allowed[0]
    return {"AUTO": "auto", "ANY": "required", "NONE": "none"}.get(mode)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_usage(metadata: Any) -> Usage | None:
    """`promptTokenCount` includes the cached part; thinking tokens are output."""
    if not isinstance(metadata, dict):
        return None
    prompt = _int(field(metadata, "promptTokenCount")) + _int(field(metadata, "toolUsePromptTokenCount"))
    completion = _int(field(metadata, "candidatesTokenCount")) + _int(field(metadata, "thoughtsTokenCount"))
    return Usage(prompt, completion, _int(field(metadata, "cachedContentTokenCount")))


def _stop(reason: Any, calls: bool) -> StopReason:
    return stop_with_calls(FINISH_REASONS.get(str(reason), "content_filter"), calls)


def parse_response(data: Any) -> ChatResponse:
    answers = data if isinstance(data, list) else [data]  # streamGenerateContent without alt=sse: an array
    ids, parts, reason, usage, answer_id = CallIds(), [], "STOP", Usage(), ""
    for answer in answers:
        if not isinstance(answer, dict):
            continue
        candidate = _candidate(answer)
        parts += content_parts(candidate.get("content"), ids)
        reason = field(candidate, "finishReason") or reason
        usage = parse_usage(field(answer, "usageMetadata")) or usage
        answer_id = str(field(answer, "responseId") or answer_id)
    calls = any(isinstance(part, ToolCall) for part in parts)
    return ChatResponse(id=answer_id, parts=_joined(parts), stop=_stop(reason, calls), usage=usage)


def _joined(parts: list[Part]) -> list[Part]:
    """Adjacent text parts as one (a streamed answer arrives in pieces)."""
    joined: list[Part] = []
    for part in parts:
        if isinstance(part, Text) and joined and isinstance(joined[-1], Text):
            joined[-1] = Text(joined[-1].text + part.text)
        else:
            joined.append(part)
    return joined


def _candidate(answer: dict[str, Any]) -> dict[str, Any]:
    candidates = answer.get("candidates")
    first = candidates[0] if isinstance(candidates, list) and candidates else None
    return first if isinstance(first, dict) else {}


class StreamParser:
    """streamGenerateContent chunks into deltas: each function call arrives whole, in one chunk."""

    def __init__(self) -> None:
        self._started = False
        self._ids = CallIds()
        self._calls = 0

    def feed(self, event: bytes) -> list[StreamDelta]:
        data = event_json(event)
        if data is None:
            return []
        usage = parse_usage(field(data, "usageMetadata"))
        deltas: list[StreamDelta] = []
        if not self._started:
            self._started = True
            deltas.append(
                Start(str(field(data, "responseId") or ""), Usage(usage.prompt, 0, usage.cached) if usage else None)
            )
        candidate = _candidate(data)
        for part in content_parts(candidate.get("content"), self._ids):
            if isinstance(part, Text) and part.text:
                deltas.append(TextDelta(part.text))
            elif isinstance(part, ToolCall):
                deltas += [
                    ToolCallStart(self._calls, part.id, part.name),
                    ToolArgumentsDelta(self._calls, part.arguments),
                ]
                self._calls += 1
        if usage is not None:
            deltas.append(UsageReport(usage))
        if field(candidate, "finishReason"):
            deltas.append(Finish(_stop(field(candidate, "finishReason"), self._calls > 0)))
        return deltas


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
