"""The internal representation as Gemini generateContent: upstream requests, client answers and chunks."""

from __future__ import annotations

import mimetypes
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
from relaygate.relay.error_bodies import stream_error_event

FINISH_REASONS: dict[StopReason, str] = {
    "stop": "STOP",
    "tool_calls": "STOP",
    "length": "MAX_TOKENS",
    "content_filter": "SAFETY",
}


def render_request(request: ChatRequest) -> dict[str, Any]:
    """The body of a generateContent request (the model is in its URL)."""
    body: dict[str, Any] = {"contents": [render_message(message) for message in request.messages]}
    if request.system:
        body["systemInstruction"] = {"parts": [{"text": request.system}]}
    if request.tools:
        declarations = [
            {"name": tool.name, "description": tool.description, "parametersJsonSchema": tool.parameters}
            for tool in request.tools
        ]
        body["tools"] = [{"functionDeclarations": declarations}]
    if request.tool_choice is not None:
        modes = {"auto": "AUTO", "required": "ANY", "none": "NONE"}
        calling: dict[str, Any] = {"mode": modes.get(request.tool_choice, "ANY")}
        if request.tool_choice not in modes:
            calling["allowedFunctionNames"] = [request.tool_choice]
        body["toolConfig"] = {"functionCallingConfig": calling}
    response_format = request.response_format
    config = {
        "responseMimeType": "application/json" if response_format is not None else None,
        # JSON Schema as it is (as tools are sent, `parametersJsonSchema`): `responseSchema` is OpenAPI's subset.
        "responseJsonSchema": response_format.schema if response_format is not None else None,
        "maxOutputTokens": request.max_tokens,
        "temperature": request.temperature,
        "topP": request.top_p,
        "stopSequences": request.stop or None,
    }
    config = {name: value for name, value in config.items() if value is not None}
    if config:
        body["generationConfig"] = config
    return body


def render_message(message: Message) -> dict[str, Any]:
    parts = [part for part in map(render_part, message.parts) if part is not None]
    return {"role": "model" if message.role == "assistant" else "user", "parts": parts}


def render_part(part: Part) -> dict[str, Any] | None:
    if isinstance(part, Text):
        return {"text": part.text} if part.text else None
    if isinstance(part, Image):
        if part.data:
            return {"inlineData": {"mimeType": part.media_type, "data": part.data}}
        media_type = part.media_type or mimetypes.guess_type(part.url)[0] or "image/jpeg"
        return {"fileData": {"mimeType": media_type, "fileUri": part.url}}
    if isinstance(part, ToolCall):
        return {"functionCall": {"name": part.name, "args": _object(part.arguments)}}
    return {"functionResponse": {"name": part.name, "response": _response(part)}}


def _object(arguments: str) -> dict[str, Any]:
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _response(result: ToolResult) -> dict[str, Any]:
    """Gemini wants an object: a JSON object result as it is, anything else under `result` (or `error`)."""
    if result.content.startswith("{") and not result.is_error:
        value = _object(result.content)
        if value:
            return value
    return {"error" if result.is_error else "result": result.content}


def render_usage(usage: Usage) -> dict[str, Any]:
    metadata = {
        "promptTokenCount": usage.prompt,
        "candidatesTokenCount": usage.completion,
        "totalTokenCount": usage.prompt + usage.completion,
    }
    return metadata | {"cachedContentTokenCount": usage.cached} if usage.cached else metadata


def render_response(response: ChatResponse, model: str) -> dict[str, Any]:
    parts = [part for part in map(render_part, response.parts) if part is not None]
    candidate = {
        "content": {"role": "model", "parts": parts},
        "finishReason": FINISH_REASONS[response.stop],
        "index": 0,
    }
    return {
        "candidates": [candidate],
        "usageMetadata": render_usage(response.usage),
        "modelVersion": model,
        "responseId": response.id,
    }


class StreamRenderer:
    """Deltas as streamGenerateContent chunks; function calls go out whole, in the last chunk with the usage."""

    def __init__(self, model: str):
        self._head = {"modelVersion": model, "responseId": ""}
        self._usage = Usage()
        self._stop: StopReason = "stop"
        self._calls: dict[int, list[str]] = {}  # index -> [name, arguments so far]

    def render(self, delta: StreamDelta) -> bytes:
        if isinstance(delta, Start):
            self._head["responseId"] = delta.id
            self._usage = delta.usage or self._usage
        elif isinstance(delta, TextDelta):
            return self._chunk([{"text": delta.text}])
        elif isinstance(delta, ToolCallStart):
            self._calls[delta.index] = [delta.name, ""]
        elif isinstance(delta, ToolArgumentsDelta) and delta.index in self._calls:
            self._calls[delta.index][1] += delta.fragment
        elif isinstance(delta, Finish):
            self._stop = delta.stop
        elif isinstance(delta, UsageReport):
            self._usage = delta.usage
        return b""

    def close(self) -> bytes:
        calls = [render_part(ToolCall("", name, arguments)) for name, arguments in self._calls.values()]
        return self._chunk([call for call in calls if call], finish=FINISH_REASONS[self._stop])

    def fail(self, error: GatewayError) -> bytes:
        return stream_error_event(Family.GEMINI, error)

    def _chunk(self, parts: list[dict[str, Any]], finish: str | None = None) -> bytes:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        chunk: dict[str, Any] = {"candidates": [candidate]}
        if finish is not None:
            candidate["finishReason"] = finish
            chunk["usageMetadata"] = render_usage(self._usage)
        return b"data: " + orjson.dumps(chunk | self._head) + b"\r\n\r\n"
