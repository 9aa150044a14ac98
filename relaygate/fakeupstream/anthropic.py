"""The Anthropic Messages protocol of the fake upstream: `POST /v1/messages` and `/v1/messages/count_tokens`.

The key comes in `x-api-key`, and `anthropic-version` is required, as the real API does. Counting
rules (a contract tests compute bills from):

- The prompt is the words of `system`, plus per message the words of its text (string content,
  `text` blocks, `tool_result` text) and 3, plus per tool the words of its name and description
  (`anthropic_prompt_tokens`). `count_tokens` answers that number.
- Of the prompt, `cached=N` tokens are reported as `cache_read_input_tokens` and `cache-write=N`
  and `cache-write-1h=N` as `cache_creation_input_tokens`, split by kind in `cache_creation`
  (`ephemeral_5m_input_tokens`, `ephemeral_1h_input_tokens`); `input_tokens` is the rest, as Anthropic reports it.
- The reply is `words` words cut to `max_tokens` (stop reason `max_tokens`, else `end_turn`). A
  request that forces a tool (`tool_choice` `any` or `tool`) gets one `tool_use` block instead,
  costing `TOOL_USE_TOKENS`, its input following the tool's `input_schema` (`sample_json`).
- Structured output (`output_config.format`, or the older beta's `output_format`, of type
  `json_schema`) is answered with one text block of JSON following the schema (`sample_json`),
  costing its words, uncut, stop reason `end_turn`.
- A stream's last `message_delta` repeats the input token counts, as Anthropic's does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from relaygate.fakeupstream.admission import (
    Dialect,
    FakeUpstream,
    Handler,
    JSONObject,
    error_headers,
    json_answer,
    stream_events,
)
from relaygate.fakeupstream.behaviour import (
    FakeUpstreamError,
    UpstreamBehaviour,
    count_words,
    invalid_request,
    reply_length,
    reply_text,
    sample_json,
    stream_pieces,
)

ANTHROPIC_VERSION_HEADER = "anthropic-version"
TOKENS_PER_MESSAGE = 3
TOOL_USE_TOKENS = 5
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def block_text(content: Any) -> str:
    """The text of a message's content: a string, or its text and tool-result blocks joined by spaces."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts = []
    for block in content:
        if not isinstance(block, Mapping):
            continue
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_result":
            texts.append(block_text(block.get("content")))
    return " ".join(texts)


def anthropic_prompt_tokens(request: Mapping[str, Any]) -> int:
    """Input tokens of a Messages request: system, messages (+3 each) and tool descriptions."""
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid_request("messages: at least one message is required", param="messages")
    total = count_words(block_text(request.get("system")))
    for message in messages:
        if not isinstance(message, Mapping):
            raise invalid_request("messages: each message must be an object", param="messages")
        total += count_words(block_text(message.get("content"))) + TOKENS_PER_MESSAGE
    for tool in request.get("tools") or ():
        if isinstance(tool, Mapping):
            total += count_words(str(tool.get("name") or "")) + count_words(str(tool.get("description") or ""))
    return total


def forced_tool(request: Mapping[str, Any]) -> str | None:
    """The name of the tool the request forces, if it forces one."""
    tools = [tool for tool in request.get("tools") or () if isinstance(tool, Mapping) and tool.get("name")]
    choice = request.get("tool_choice")
    if not tools or not isinstance(choice, Mapping):
        return None
    if choice.get("type") == "tool" and isinstance(choice.get("name"), str):
        return str(choice["name"])
    return str(tools[0]["name"]) if choice.get("type") == "any" else None


def tool_schema(request: Mapping[str, Any], name: str | None) -> Any:
    tools = [tool for tool in request.get("tools") or () if isinstance(tool, Mapping) and tool.get("name") == name]
    return tools[0].get("input_schema") if tools else None


def json_answer_text(request: Mapping[str, Any]) -> str | None:
    """The JSON text a structured output request is answered with, or None for a plain answer."""
    config = request.get("output_config")
    output_format = (config.get("format") if isinstance(config, Mapping) else None) or request.get("output_format")
    if not isinstance(output_format, Mapping) or output_format.get("type") != "json_schema":
        return None
    return orjson.dumps(sample_json(output_format.get("schema"))).decode()


def anthropic_usage(prompt: int, output: int, behaviour: UpstreamBehaviour) -> JSONObject:
    read = min(behaviour.cached, prompt)
    minutes = min(behaviour.cache_write, prompt - read)
    hour = min(behaviour.cache_write_1h, prompt - read - minutes)
    return {
        "input_tokens": prompt - read - minutes - hour,
        "cache_creation_input_tokens": minutes + hour,
        "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": minutes, "ephemeral_1h_input_tokens": hour},
        "output_tokens": output,
    }


class AnthropicAnswers:
    def __init__(self, upstream: FakeUpstream) -> None:
        self.upstream = upstream

    async def answer_messages(
        self, request: web.Request, body: JSONObject, behaviour: UpstreamBehaviour
    ) -> web.StreamResponse:
        if not isinstance(body.get("max_tokens"), int):
            raise invalid_request("max_tokens: Field required", param="max_tokens")
        prompt = anthropic_prompt_tokens(body)
        tool = forced_tool(body)
        words, finish = reply_length(body, behaviour.words)
        answer = json_answer_text(body)
        text, pieces = (reply_text(words), stream_pieces(words)) if answer is None else (answer, (answer,))
        if tool:
            output, stop_reason = TOOL_USE_TOKENS, "tool_use"
        elif answer is not None:
            output, stop_reason = count_words(answer), "end_turn"
        else:
            output, stop_reason = words, _STOP_REASONS[finish]
        usage = None if behaviour.no_usage else anthropic_usage(prompt, output, behaviour)
        message: JSONObject = {
            "id": self.upstream.next_id("msg_fake"),
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
        }
        tool_block: JSONObject = {
            "type": "tool_use",
            "id": self.upstream.next_id("toolu_fake"),
            "name": tool,
            "input": sample_json(tool_schema(body, tool)),
        }
        if body.get("stream") is True and not behaviour.no_stream:
            events = message_events(message, tool_block if tool else None, pieces, stop_reason, usage)
            return await stream_events(request, events, behaviour)
        content = [tool_block] if tool else [{"type": "text", "text": text}]
        message |= {"content": content, "stop_reason": stop_reason}
        return json_answer(message if usage is None else message | {"usage": usage})

    async def answer_count_tokens(
        self, request: web.Request, body: JSONObject, behaviour: UpstreamBehaviour
    ) -> web.StreamResponse:
        return json_answer({"input_tokens": anthropic_prompt_tokens(body)})


_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens"}


def message_events(
    message: JSONObject,
    tool_block: JSONObject | None,
    pieces: tuple[str, ...],
    stop_reason: str,
    usage: JSONObject | None,
) -> list[bytes]:
    """The events of a streamed message: start, one block with its deltas, the final delta, stop."""
    start = message if usage is None else message | {"usage": usage | {"output_tokens": 1}}
    events: list[JSONObject] = [{"type": "message_start", "message": start}]
    if tool_block is not None:
        events.append({"type": "content_block_start", "index": 0, "content_block": tool_block | {"input": {}}})
        arguments = orjson.dumps(tool_block["input"]).decode()
        events.append(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": arguments},
            }
        )
    else:
        events.append({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
        events.append({"type": "ping"})
        events += [
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}
            for piece in pieces
        ]
    events.append({"type": "content_block_stop", "index": 0})
    final: JSONObject = {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None}}
    if usage is not None:
        final["usage"] = usage  # input counts too, as Anthropic's final message_delta has them
    events += [final, {"type": "message_stop"}]
    return [b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n" for event in events]


def error_response(error: FakeUpstreamError) -> web.Response:
    kind = _ERROR_TYPES.get(error.status, "api_error")
    payload = {"type": "error", "error": {"type": kind, "message": error.message}}
    return json_answer(payload, error.status, error_headers(error))


def _require_version(request: web.Request) -> None:
    if ANTHROPIC_VERSION_HEADER not in request.headers:
        raise invalid_request("anthropic-version: header is required")


ANTHROPIC = Dialect(
    key_of=lambda request: request.headers.get("x-api-key") or None,
    missing_key=FakeUpstreamError(401, "x-api-key header is required"),
    render_error=error_response,
    logged_headers=("x-api-key", ANTHROPIC_VERSION_HEADER, "anthropic-beta"),
    check=_require_version,
)


ANTHROPIC_MODEL_IDS = ("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1")


def anthropic_models_handler(upstream: FakeUpstream) -> Handler:
    """`GET /v1/models` in the Anthropic shape (an `x-api-key`)."""

    async def list_models(request: web.Request, body: JSONObject, behaviour: UpstreamBehaviour) -> web.StreamResponse:
        data = [
            {"type": "model", "id": model, "display_name": model, "created_at": "2025-01-01T00:00:00Z"}
            for model in ANTHROPIC_MODEL_IDS
        ]
        return json_answer({"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]})

    return upstream.endpoint(list_models, ANTHROPIC, with_body=False)


def add_anthropic_routes(app: web.Application, upstream: FakeUpstream) -> None:
    answers = AnthropicAnswers(upstream)
    app.router.add_post("/v1/messages", upstream.endpoint(answers.answer_messages, ANTHROPIC))
    app.router.add_post("/v1/messages/count_tokens", upstream.endpoint(answers.answer_count_tokens, ANTHROPIC))
