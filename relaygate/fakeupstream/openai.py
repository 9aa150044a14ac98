"""The OpenAI protocol of the fake upstream: chat and legacy completions, embeddings, models.

A chat request that forces a tool (`tool_choice` "required" or a named function), or has tools
under the `call-tools` flag, is answered with one call of that tool (the first one unless named),
arguments following its parameters (`sample_json`), costing `TOOL_CALL_TOKENS` completion tokens
and finish reason "tool_calls" ("stop" under `finish-stop`). A `response_format` of `json_object`
or `json_schema` is answered with JSON (`sample_json` of the schema) costing its words, uncut.
"""

from __future__ import annotations

import time

import orjson
from aiohttp import hdrs, web

from relaygate.fakeupstream.admission import (
    JSON_HEADERS,
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
    chat_prompt_tokens,
    completion_prompt_tokens,
    count_words,
    embedding_usage,
    embedding_vectors,
    invalid_request,
    parse_bearer,
    reply_length,
    reply_text,
    sample_json,
    stream_pieces,
    usage_object,
)

MODEL_IDS = ("gpt-4o", "gpt-4o-mini", "text-embedding-3-small")
_MODELS_CREATED = 1_700_000_000
_MODELS_BODY = orjson.dumps(
    {
        "object": "list",
        "data": [
            {"id": model, "object": "model", "created": _MODELS_CREATED, "owned_by": "fake-upstream"}
            for model in MODEL_IDS
        ],
    }
)
_SSE_DONE = b"data: [DONE]\n\n"
TOOL_CALL_TOKENS = 5


class OpenAIAnswers:
    """The answers of the OpenAI routes, sharing one upstream's state."""

    def __init__(self, upstream: FakeUpstream) -> None:
        self.upstream = upstream

    def head(self, prefix: str, kind: str, body: JSONObject) -> JSONObject:
        reply_id = self.upstream.next_id(prefix)
        return {"id": reply_id, "object": kind, "created": int(time.time()), "model": body["model"]}

    async def answer_chat(
        self, request: web.Request, body: JSONObject, behaviour: UpstreamBehaviour
    ) -> web.StreamResponse:
        prompt_tokens = chat_prompt_tokens(body)
        words, finish_reason = reply_length(body, behaviour.words)
        tool = called_tool(body, behaviour)
        if tool is not None:
            words, finish_reason = TOOL_CALL_TOKENS, "stop" if behaviour.finish_stop else "tool_calls"
        reported = words if behaviour.report_completion is None else behaviour.report_completion
        usage = None if behaviour.no_usage else usage_object(prompt_tokens, reported)
        call = {
            "id": self.upstream.next_id("call_fake"),
            "type": "function",
            "function": {"name": tool, "arguments": orjson.dumps(sample_json(tool_parameters(body, tool))).decode()},
        }
        answer = json_answer_text(body.get("response_format"))
        if answer is not None and tool is None:
            words, finish_reason = count_words(answer), "stop"
            usage = None if behaviour.no_usage else usage_object(prompt_tokens, words)
        if body.get("stream") is True and not behaviour.no_stream:
            head = self.head("chatcmpl", "chat.completion.chunk", body)
            choices = (
                tool_stream_choices(call, finish_reason) if tool else chat_stream_choices(words, finish_reason, answer)
            )
            if behaviour.usage_on_choices:
                return await stream_events(request, usage_on_last_choices(head, choices, usage), behaviour)
            return await stream_events(request, sse_events(head, choices, body, usage), behaviour)
        message: JSONObject = {"role": "assistant", "content": answer or reply_text(words), "refusal": None}
        if tool is not None:
            message |= {"content": None, "tool_calls": [call]}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        return json_response(self.head("chatcmpl", "chat.completion", body) | {"choices": [choice]}, usage)

    async def answer_completion(
        self, request: web.Request, body: JSONObject, behaviour: UpstreamBehaviour
    ) -> web.StreamResponse:
        prompt_tokens = completion_prompt_tokens(body)
        words, finish_reason = reply_length(body, behaviour.words)
        usage = None if behaviour.no_usage else usage_object(prompt_tokens, words)
        head = self.head("cmpl", "text_completion", body)
        if body.get("stream") is True:
            choices = completion_stream_choices(words, finish_reason)
            return await stream_events(request, sse_events(head, choices, body, usage), behaviour)
        choice = {"text": reply_text(words), "index": 0, "logprobs": None, "finish_reason": finish_reason}
        return json_response(head | {"choices": [choice]}, usage)

    async def answer_embeddings(
        self, request: web.Request, body: JSONObject, behaviour: UpstreamBehaviour
    ) -> web.StreamResponse:
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            raise invalid_request("'encoding_format' must be 'float' or 'base64'", param="encoding_format")
        data = [
            {"object": "embedding", "index": index, "embedding": vector}
            for index, vector in enumerate(embedding_vectors(body, base64_encoded=encoding == "base64"))
        ]
        tokens = embedding_usage(body)
        usage = None if behaviour.no_usage else {"prompt_tokens": tokens, "total_tokens": tokens}
        return json_response({"object": "list", "data": data, "model": body["model"]}, usage)

    async def answer_models(
        self, request: web.Request, body: JSONObject, behaviour: UpstreamBehaviour
    ) -> web.StreamResponse:
        return web.Response(body=_MODELS_BODY, headers=JSON_HEADERS)


def add_openai_routes(app: web.Application, upstream: FakeUpstream) -> None:
    answers = OpenAIAnswers(upstream)
    app.router.add_post("/v1/chat/completions", upstream.endpoint(answers.answer_chat, OPENAI))
    app.router.add_post("/v1/completions", upstream.endpoint(answers.answer_completion, OPENAI))
    app.router.add_post("/v1/embeddings", upstream.endpoint(answers.answer_embeddings, OPENAI))
    # GET /v1/models is shared with the Anthropic protocol: `server` routes it to `models_handler`.


def models_handler(upstream: FakeUpstream) -> Handler:
    """`GET /v1/models` in the OpenAI shape (a Bearer key)."""
    return upstream.endpoint(OpenAIAnswers(upstream).answer_models, OPENAI, with_body=False)


def error_response(error: FakeUpstreamError) -> web.Response:
    """An OpenAI error body; a 429 says `Retry-After: 1`."""
    detail = {"message": error.message, "type": error.kind, "code": error.code, "param": error.param}
    return json_answer({"error": detail}, error.status, error_headers(error))


def json_response(payload: JSONObject, usage: JSONObject | None) -> web.Response:
    """A 200 JSON answer; `usage` is left out entirely when None, as under the `no-usage` flag."""
    if usage is not None:
        payload["usage"] = usage
    return json_answer(payload)


def chat_stream_choices(words: int, finish_reason: str, text: str | None = None) -> list[JSONObject]:
    """The choice of each chat chunk: the role, one per word (or `text` in one), then the finish reason."""
    deltas: list[JSONObject] = [{"role": "assistant", "content": ""}]
    deltas += [{"content": text}] if text is not None else [{"content": piece} for piece in stream_pieces(words)]
    choices = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None} for delta in deltas]
    return [*choices, {"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish_reason}]


def function_tools(body: JSONObject) -> dict[str, object]:
    """The request's function tools, name: parameters, in either shape.

    Chat nests each under `function` (`{"type": "function", "function": {"name": ...}}`); the
    Responses API puts its fields on the tool itself (`{"type": "function", "name": ...}`).
    """
    tools: dict[str, object] = {}
    for tool in body.get("tools") or ():
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            continue
        nested = tool.get("function")
        function: JSONObject = nested if isinstance(nested, dict) else tool
        name = function.get("name")
        if isinstance(name, str) and name:
            tools[name] = function.get("parameters")
    return tools


def called_tool(body: JSONObject, behaviour: UpstreamBehaviour) -> str | None:
    """The function a chat or Responses request's answer calls: the forced one, or the first under `call-tools`."""
    names = list(function_tools(body))
    choice = body.get("tool_choice")
    if not names or choice == "none":
        return None
    named = (choice.get("function") or choice) if isinstance(choice, dict) else None
    if isinstance(named, dict) and isinstance(named.get("name"), str):
        return str(named["name"])
    return names[0] if choice == "required" or behaviour.call_tools else None


def tool_parameters(body: JSONObject, name: str | None) -> object:
    return function_tools(body).get(name) if name is not None else None


def json_answer_text(response_format: object) -> str | None:
    """The JSON text a structured output format asks for, or None for a plain answer.

    `response_format` is chat's `response_format` (the schema under `json_schema.schema`) or the
    Responses API's `text.format` (the schema under `schema`).
    """
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_object":
        return orjson.dumps({"reply": reply_text(3)}).decode()
    if kind == "json_schema" and isinstance(response_format, dict):
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else response_format.get("schema")
        return orjson.dumps(sample_json(schema)).decode()
    return None


def tool_stream_choices(call: JSONObject, finish_reason: str) -> list[JSONObject]:
    """The choice of each chat chunk of a tool call: the call's name, its arguments, the finish reason."""
    start = {
        "index": 0,
        "id": call["id"],
        "type": "function",
        "function": {"name": call["function"]["name"], "arguments": ""},
    }
    deltas: list[JSONObject] = [
        {"role": "assistant", "content": None, "tool_calls": [start]},
        {"tool_calls": [{"index": 0, "function": {"arguments": call["function"]["arguments"]}}]},
    ]
    choices = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None} for delta in deltas]
    return [*choices, {"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish_reason}]


def completion_stream_choices(words: int, finish_reason: str) -> list[JSONObject]:
    """The choice of each legacy completion chunk: one per word, then the finish reason."""
    pieces = [*stream_pieces(words), ""]
    finishes: list[str | None] = [None] * words + [finish_reason]
    return [
        {"text": piece, "index": 0, "logprobs": None, "finish_reason": finish}
        for piece, finish in zip(pieces, finishes, strict=True)
    ]


def usage_on_last_choices(head: JSONObject, choices: list[JSONObject], usage: JSONObject | None) -> list[bytes]:
    """A stream as LiteLLM sends it: the usage on the finish chunk, whether or not the client asked."""
    chunks = [head | {"choices": [choice]} for choice in choices]
    chunks[-1] |= {"usage": usage}
    return [b"data: " + orjson.dumps(chunk) + b"\n\n" for chunk in chunks] + [_SSE_DONE]


def sse_events(head: JSONObject, choices: list[JSONObject], body: JSONObject, usage: JSONObject | None) -> list[bytes]:
    """Server-sent events of a streamed answer, ending with `[DONE]`.

    As OpenAI does, a request with `stream_options.include_usage` gets `"usage": null` on every
    chunk and a last chunk with no choices and the usage (unless `usage` is None).
    """
    stream_options = body.get("stream_options")
    include_usage = isinstance(stream_options, dict) and stream_options.get("include_usage") is True
    tail: JSONObject = {"usage": None} if include_usage else {}
    chunks = [head | {"choices": [choice]} | tail for choice in choices]
    if include_usage and usage is not None:
        chunks.append(head | {"choices": [], "usage": usage})
    return [b"data: " + orjson.dumps(chunk) + b"\n\n" for chunk in chunks] + [_SSE_DONE]


OPENAI = Dialect(
    key_of=lambda request: parse_bearer(request.headers.get(hdrs.AUTHORIZATION)),
    missing_key=FakeUpstreamError(
        401, "You didn't provide an API key (Authorization: Bearer <key>).", code="invalid_api_key"
    ),
    render_error=error_response,
)
