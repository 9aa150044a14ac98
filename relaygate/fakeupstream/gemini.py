"""The Gemini protocol of the fake upstream: `POST /v1beta/models/{model}:{method}` (and under `/v1`).

Methods: `generateContent`, `streamGenerateContent` (`?alt=sse` for server-sent events, else one
JSON array), `countTokens`, `embedContent`, `batchEmbedContents`; and `GET /v1beta/models` lists
`GEMINI_MODEL_IDS`. The key comes in `x-goog-api-key` or `?key=`. Counting rules (a contract tests compute bills from):

- The prompt is the words of every text part of `systemInstruction` and `contents`
  (`gemini_prompt_tokens`); `countTokens` answers that number as `totalTokens`.
- `generationConfig.responseMimeType` "application/json" is answered with JSON following
  `responseJsonSchema` or `responseSchema` (`sample_json`), costing its words, uncut; a forced
  function's args follow its parameters.
- Fields are read in either spelling (`generation_config.max_output_tokens` too), as Gemini does.
- The reply is `words` words cut to `generationConfig.maxOutputTokens` (finish reason
  `MAX_TOKENS`, else `STOP`). `usageMetadata` reports the prompt, the reply's words as
  `candidatesTokenCount`, `thoughts=N` as `thoughtsTokenCount` and `cached=N` (at most the
  prompt) as `cachedContentTokenCount`, which is part of `promptTokenCount`.
- A stream sends one chunk per word, each with the usage so far; the last chunk's is final.
- A request that forces a function call (`toolConfig.functionCallingConfig.mode` `ANY`) gets one
  `functionCall` part (the first allowed, else the first declared function, with `{}` as args)
  instead, costing `TOOL_USE_TOKENS`, with finish reason `STOP`; streamed, it is one chunk.
- An embedding costs the words of each text, at least 1 per text, as `promptTokenCount`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from relaygate.fakeupstream.admission import (
    Dialect,
    FakeUpstream,
    JSONObject,
    error_headers,
    json_answer,
    stream_events,
)
from relaygate.fakeupstream.anthropic import TOOL_USE_TOKENS
from relaygate.fakeupstream.behaviour import (
    FakeUpstreamError,
    UpstreamBehaviour,
    count_words,
    embedding_vector,
    invalid_request,
    reply_length,
    reply_text,
    sample_json,
    stream_pieces,
)
from relaygate.relay.gemini.casing import field

_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    503: "UNAVAILABLE",
}
_FINISH = {"stop": "STOP", "length": "MAX_TOKENS"}


def content_texts(content: Any) -> list[str]:
    """The text parts of one `Content` object."""
    parts = content.get("parts") if isinstance(content, Mapping) else None
    if not isinstance(parts, list):
        return []
    return [part["text"] for part in parts if isinstance(part, Mapping) and isinstance(part.get("text"), str)]


def gemini_prompt_tokens(request: Mapping[str, Any]) -> int:
    """Prompt tokens of a generateContent request: the words of the system instruction and contents."""
    contents = request.get("contents")
    if not isinstance(contents, list) or not contents:
        raise invalid_request("* GenerateContentRequest.contents: contents is not specified", param="contents")
    texts = content_texts(field(request, "systemInstruction"))
    for content in contents:
        texts += content_texts(content)
    return sum(count_words(text) for text in texts)


def forced_function(request: Mapping[str, Any]) -> str | None:
    """The name of the function the request forces the model to call, if it forces one."""
    config = field(request, "toolConfig")
    calling = field(config, "functionCallingConfig")
    if not isinstance(calling, Mapping) or calling.get("mode") != "ANY":
        return None
    allowed = field(calling, "allowedFunctionNames")
    if isinstance(allowed, list) and allowed:
        return str(allowed[0])
    names = [
        str(declaration.get("name"))
        for tool in request.get("tools") or ()
        if isinstance(tool, Mapping)
        for declaration in field(tool, "functionDeclarations") or ()
        if isinstance(declaration, Mapping)
    ]
    return names[0] if names else None


def function_parameters(request: Mapping[str, Any], name: str) -> Any:
    for tool in request.get("tools") or ():
        for declaration in field(tool, "functionDeclarations") or ():
            if isinstance(declaration, Mapping) and declaration.get("name") == name:
                return field(declaration, "parametersJsonSchema") or declaration.get("parameters")
    return None


def json_answer_text(request: Mapping[str, Any]) -> str | None:
    """The JSON text a request in JSON mode is answered with, or None for a plain answer."""
    config = field(request, "generationConfig")
    if field(config, "responseMimeType") != "application/json":
        return None
    schema = field(config, "responseJsonSchema") or field(config, "responseSchema")
    return orjson.dumps(sample_json(schema)).decode()


def reply_words_for(request: Mapping[str, Any], words: int) -> tuple[int, str]:
    config = field(request, "generationConfig")
    limit = field(config, "maxOutputTokens")
    count, finish = reply_length({} if limit is None else {"max_tokens": limit}, words)
    return count, _FINISH[finish]


def usage_metadata(prompt: int, output: int, behaviour: UpstreamBehaviour, *, final: bool = True) -> JSONObject:
    usage: JSONObject = {"promptTokenCount": prompt, "candidatesTokenCount": output}
    thoughts = behaviour.thoughts if final else 0
    cached = min(behaviour.cached, prompt)
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    if cached:
        usage["cachedContentTokenCount"] = cached
    usage["totalTokenCount"] = prompt + output + thoughts
    return usage


def embedding_texts(request: Mapping[str, Any], method: str) -> list[str]:
    """One text per embedding: each request's content (batch), or the one content."""
    contents = [request.get("content")]
    if method == "batchEmbedContents":
        requests = request.get("requests")
        if not isinstance(requests, list) or not requests:
            raise invalid_request("* BatchEmbedContentsRequest.requests: requests is not specified")
        contents = [item.get("content") if isinstance(item, Mapping) else None for item in requests]
    texts = [" ".join(content_texts(content)) for content in contents]
    if any(not text for text in texts):
        raise invalid_request("* EmbedContentRequest.content: content is not specified", param="content")
    return texts


GEMINI_MODEL_IDS = ("gemini-2.5-flash", "gemini-2.5-pro", "text-embedding-004")


class GeminiAnswers:
    def __init__(self, upstream: FakeUpstream) -> None:
        self.upstream = upstream

    async def list_models(
        self, request: web.Request, body: JSONObject, behaviour: UpstreamBehaviour
    ) -> web.StreamResponse:
        models = [
            {"name": f"models/{model}", "displayName": model, "supportedGenerationMethods": ["generateContent"]}
            for model in GEMINI_MODEL_IDS
        ]
        return json_answer({"models": models})

    async def answer(self, request: web.Request, body: JSONObject, behaviour: UpstreamBehaviour) -> web.StreamResponse:
        model, _, method = request.match_info["target"].partition(":")
        if method in ("generateContent", "streamGenerateContent"):
            return await self.generate(request, model, method, body, behaviour)
        if method == "countTokens":
            inner = field(body, "generateContentRequest")
            return json_answer({"totalTokens": gemini_prompt_tokens(inner if isinstance(inner, Mapping) else body)})
        if method in ("embedContent", "batchEmbedContents"):
            return self.embed(method, body, behaviour)
        raise FakeUpstreamError(404, f"Method {method!r} is not found for models/{model}.")

    async def generate(
        self, request: web.Request, model: str, method: str, body: JSONObject, behaviour: UpstreamBehaviour
    ) -> web.StreamResponse:
        prompt = gemini_prompt_tokens(body)
        words, finish = reply_words_for(body, behaviour.words)
        head: JSONObject = {"modelVersion": model, "responseId": self.upstream.next_id("fake-response")}
        function = forced_function(body)
        if function is not None:
            args = sample_json(function_parameters(body, function))
            return await self.call_function(request, method, function, args, head, prompt, behaviour)
        answer_json = json_answer_text(body)
        if answer_json is not None:
            words, finish = count_words(answer_json), "STOP"
        if method == "generateContent":
            candidate: JSONObject = {
                "content": {"role": "model", "parts": [{"text": answer_json or reply_text(words)}]},
                "finishReason": finish,
            }
            answer: JSONObject = {"candidates": [candidate | {"index": 0}]} | head
            if not behaviour.no_usage:
                answer["usageMetadata"] = usage_metadata(prompt, words, behaviour)
            return json_answer(answer)
        chunks: list[JSONObject] = []
        pieces = [answer_json] if answer_json is not None else stream_pieces(words)
        for index, piece in enumerate(pieces):
            candidate = {"content": {"role": "model", "parts": [{"text": piece}]}, "index": 0}
            if index == len(pieces) - 1:
                candidate["finishReason"] = finish
            chunk: JSONObject = {"candidates": [candidate]} | head
            if not behaviour.no_usage:
                last = index == len(pieces) - 1
                chunk["usageMetadata"] = usage_metadata(prompt, words if last else index + 1, behaviour, final=last)
            chunks.append(chunk)
        if request.query.get("alt") == "sse":
            return await stream_events(request, [b"data: " + orjson.dumps(c) + b"\r\n\r\n" for c in chunks], behaviour)
        return json_answer(chunks)

    async def call_function(
        self,
        request: web.Request,
        method: str,
        function: str,
        args: Any,
        head: JSONObject,
        prompt: int,
        behaviour: UpstreamBehaviour,
    ) -> web.StreamResponse:
        content = {"role": "model", "parts": [{"functionCall": {"name": function, "args": args}}]}
        answer: JSONObject = {"candidates": [{"content": content, "finishReason": "STOP", "index": 0}]} | head
        if not behaviour.no_usage:
            answer["usageMetadata"] = usage_metadata(prompt, TOOL_USE_TOKENS, behaviour)
        if method == "generateContent":
            return json_answer(answer)
        if request.query.get("alt") == "sse":
            return await stream_events(request, [b"data: " + orjson.dumps(answer) + b"\r\n\r\n"], behaviour)
        return json_answer([answer])

    def embed(self, method: str, body: JSONObject, behaviour: UpstreamBehaviour) -> web.Response:
        texts = embedding_texts(body, method)
        vectors = [{"values": embedding_vector(text)} for text in texts]
        answer: JSONObject = {"embeddings": vectors} if method == "batchEmbedContents" else {"embedding": vectors[0]}
        if not behaviour.no_usage:
            tokens = sum(max(1, count_words(text)) for text in texts)
            answer["usageMetadata"] = {"promptTokenCount": tokens, "totalTokenCount": tokens}
        return json_answer(answer)


def error_response(error: FakeUpstreamError) -> web.Response:
    status = _STATUSES.get(error.status, "INTERNAL")
    payload = {"error": {"code": error.status, "message": error.message, "status": status}}
    return json_answer(payload, error.status, error_headers(error))


GEMINI = Dialect(
    key_of=lambda request: request.headers.get("x-goog-api-key") or request.query.get("key") or None,
    missing_key=FakeUpstreamError(403, "Method doesn't allow unregistered callers. Please use an API key."),
    render_error=error_response,
    logged_headers=("x-goog-api-key",),
    model_in_body=False,
)


def add_gemini_routes(app: web.Application, upstream: FakeUpstream) -> None:
    answers = GeminiAnswers(upstream)
    for version in ("v1beta", "v1"):
        app.router.add_post(f"/{version}/models/{{target}}", upstream.endpoint(answers.answer, GEMINI))
    app.router.add_get("/v1beta/models", upstream.endpoint(answers.list_models, GEMINI, with_body=False))
