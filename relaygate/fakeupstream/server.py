"""The fake upstream over HTTP: an aiohttp app that speaks the OpenAI protocol deterministically.

Routes: `POST /v1/chat/completions`, `POST /v1/completions`, `POST /v1/embeddings`,
`GET /v1/models`, and for tests `GET /_fake/requests` (the last `REQUEST_LOG_SIZE` requests) and
`DELETE /_fake/requests` (clears them). What each answer contains is decided in `behaviour`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import hdrs, web

from relaygate.fakeupstream.behaviour import (
    FakeUpstreamError,
    UpstreamBehaviour,
    chat_prompt_tokens,
    completion_prompt_tokens,
    embedding_usage,
    embedding_vectors,
    invalid_request,
    parse_bearer,
    parse_behaviour,
    reply_length,
    reply_text,
    stream_pieces,
    usage_object,
)

JSONObject = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Answer = Callable[[web.Request, JSONObject, UpstreamBehaviour], Awaitable[web.StreamResponse]]

MODEL_IDS = ("gpt-4o", "gpt-4o-mini", "text-embedding-3-small")
REQUEST_LOG_SIZE = 1000
MAX_BODY_BYTES = 64 * 1024 * 1024
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
_JSON_HEADERS = {hdrs.CONTENT_TYPE: "application/json"}
_SSE_HEADERS = {hdrs.CONTENT_TYPE: "text/event-stream; charset=utf-8", hdrs.CACHE_CONTROL: "no-cache"}
_SSE_DONE = b"data: [DONE]\n\n"


class FakeUpstream:
    """The state of one fake upstream app: its request log, `fail-first` counters and reply ids."""

    def __init__(self, latency_ms: int = 0) -> None:
        self.latency_ms = latency_ms
        self.request_log: deque[JSONObject] = deque(maxlen=REQUEST_LOG_SIZE)
        self._failures_by_key: dict[str, int] = {}
        self._reply_ids = itertools.count(1)

    def endpoint(self, answer: Answer, *, with_body: bool = True) -> Handler:
        """A route handler that admits the request (log, auth, flags) before `answer` runs."""

        async def admit_then_answer(request: web.Request) -> web.StreamResponse:
            try:
                body, behaviour = await self._admit(request, with_body=with_body)
                return await answer(request, body, behaviour)
            except FakeUpstreamError as error:
                return error_response(error)

        return admit_then_answer

    async def _admit(self, request: web.Request, *, with_body: bool) -> tuple[JSONObject, UpstreamBehaviour]:
        body = _parse_json(await request.read()) if with_body else None
        authorization = request.headers.get(hdrs.AUTHORIZATION)
        self.request_log.append(
            {"method": request.method, "path": request.path, "authorization": authorization, "body": body}
        )
        key = parse_bearer(authorization)
        if key is None:
            raise FakeUpstreamError(
                401, "You didn't provide an API key (Authorization: Bearer <key>).", code="invalid_api_key"
            )
        behaviour = parse_behaviour(key)
        delay_ms = self.latency_ms + behaviour.delay_ms
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        self._fail_if_configured(key, behaviour)
        if not with_body:
            return {}, behaviour
        if not isinstance(body, dict):
            raise invalid_request("We could not parse the JSON body of your request.", code="invalid_json")
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise invalid_request("you must provide a model parameter", param="model", code="missing_model")
        return body, behaviour

    def _fail_if_configured(self, key: str, behaviour: UpstreamBehaviour) -> None:
        if behaviour.fail_status is not None:
            raise configured_failure(behaviour.fail_status)
        if behaviour.fail_first:
            failures = self._failures_by_key.get(key, 0)
            if failures < behaviour.fail_first:
                self._failures_by_key[key] = failures + 1
                raise configured_failure(500)

    def _head(self, prefix: str, kind: str, body: JSONObject) -> JSONObject:
        reply_id = f"{prefix}-{next(self._reply_ids)}"
        return {"id": reply_id, "object": kind, "created": int(time.time()), "model": body["model"]}

    async def answer_chat(
        self, request: web.Request, body: JSONObject, behaviour: UpstreamBehaviour
    ) -> web.StreamResponse:
        prompt_tokens = chat_prompt_tokens(body)
        words, finish_reason = reply_length(body, behaviour.words)
        usage = None if behaviour.no_usage else usage_object(prompt_tokens, words)
        if body.get("stream") is True:
            head = self._head("chatcmpl", "chat.completion.chunk", body)
            choices = chat_stream_choices(words, finish_reason)
            return await stream_events(request, sse_events(head, choices, body, usage), behaviour)
        message = {"role": "assistant", "content": reply_text(words), "refusal": None}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        return json_response(self._head("chatcmpl", "chat.completion", body) | {"choices": [choice]}, usage)

    async def answer_completion(
        self, request: web.Request, body: JSONObject, behaviour: UpstreamBehaviour
    ) -> web.StreamResponse:
        prompt_tokens = completion_prompt_tokens(body)
        words, finish_reason = reply_length(body, behaviour.words)
        usage = None if behaviour.no_usage else usage_object(prompt_tokens, words)
        head = self._head("cmpl", "text_completion", body)
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
        return web.Response(body=_MODELS_BODY, headers=_JSON_HEADERS)

    async def list_requests(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=orjson.dumps(list(self.request_log)), headers=_JSON_HEADERS)

    async def clear_requests(self, request: web.Request) -> web.StreamResponse:
        self.request_log.clear()
        return web.Response(status=204)


def create_fake_upstream_app(latency_ms: int = 0) -> web.Application:
    """A fresh fake upstream that waits `latency_ms` before every `/v1` answer."""
    upstream = FakeUpstream(latency_ms)
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post("/v1/chat/completions", upstream.endpoint(upstream.answer_chat))
    app.router.add_post("/v1/completions", upstream.endpoint(upstream.answer_completion))
    app.router.add_post("/v1/embeddings", upstream.endpoint(upstream.answer_embeddings))
    app.router.add_get("/v1/models", upstream.endpoint(upstream.answer_models, with_body=False))
    app.router.add_get("/_fake/requests", upstream.list_requests)
    app.router.add_delete("/_fake/requests", upstream.clear_requests)
    return app


def run_fake_upstream(host: str, port: int, latency_ms: int) -> None:
    """Serve a fake upstream until SIGINT or SIGTERM, on uvloop when it is installed.

    Prints `fake-upstream listening on http://HOST:PORT` once listening, with the bound port when
    `port` is 0.
    """
    with contextlib.suppress(KeyboardInterrupt), asyncio.Runner(loop_factory=_fast_loop_factory()) as runner:
        runner.run(_serve(create_fake_upstream_app(latency_ms), host, port))


def _fast_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop  # optional, and only the blocking runner wants it
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _serve(app: web.Application, host: str, port: int) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        print(f"fake-upstream listening on http://{host}:{runner.addresses[0][1]}", flush=True)
        stopped = asyncio.Event()
        with contextlib.suppress(ValueError, NotImplementedError):  # not the main thread, or Windows
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
        await stopped.wait()
    finally:
        await runner.cleanup()


def configured_failure(status: int) -> FakeUpstreamError:
    """The error a `fail=NNN` or `fail-first=N` flag answers with."""
    message = f"fake-upstream answers {status} as its API key asks"
    if status == 429:
        return FakeUpstreamError(status, message, code="rate_limit_exceeded", kind="requests")
    return FakeUpstreamError(status, message, code="fake_failure")


def error_response(error: FakeUpstreamError) -> web.Response:
    """An OpenAI error body; a 429 says `Retry-After: 1`."""
    detail = {"message": error.message, "type": error.kind, "code": error.code, "param": error.param}
    headers = (_JSON_HEADERS | {hdrs.RETRY_AFTER: "1"}) if error.status == 429 else _JSON_HEADERS
    return web.Response(status=error.status, body=orjson.dumps({"error": detail}), headers=headers)


def json_response(payload: JSONObject, usage: JSONObject | None) -> web.Response:
    """A 200 JSON answer; `usage` is left out entirely when None, as under the `no-usage` flag."""
    if usage is not None:
        payload["usage"] = usage
    return web.Response(body=orjson.dumps(payload), headers=_JSON_HEADERS)


def chat_stream_choices(words: int, finish_reason: str) -> list[JSONObject]:
    """The choice of each chat chunk: the role, one per word, then the finish reason."""
    deltas: list[JSONObject] = [{"role": "assistant", "content": ""}]
    deltas += [{"content": piece} for piece in stream_pieces(words)]
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


async def stream_events(request: web.Request, events: list[bytes], behaviour: UpstreamBehaviour) -> web.StreamResponse:
    """Send the events at once, or `chunk-delay-ms` apart; a client that leaves just ends it."""
    response = web.StreamResponse(headers=_SSE_HEADERS)
    with contextlib.suppress(ConnectionResetError):
        await response.prepare(request)
        if behaviour.chunk_delay_ms:
            for index, event in enumerate(events):
                if index:
                    await asyncio.sleep(behaviour.chunk_delay_ms / 1000)
                await response.write(event)
        else:
            await response.write(b"".join(events))
        await response.write_eof()
    return response


def _parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
