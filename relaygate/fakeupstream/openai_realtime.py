"""The OpenAI Realtime API of the fake upstream: `GET /v1/realtime?model=...` over a WebSocket.

Deterministic rules (a contract, like those in `behaviour`):

- The session needs `Authorization: Bearer <key>` (its flags apply: `fail=NNN` refuses the
  handshake with that status, `words=N` sets the reply length, `chunk-delay-ms=N` spaces events)
  and `OpenAI-Beta: realtime=v1`; it starts with `session.created`.
- `conversation.item.create` adds its text's words to the conversation; `input_audio_buffer.append`
  adds one token per `AUDIO_BYTES_PER_TOKEN` bytes of decoded audio (rounded up, per append).
- `response.create` answers `response.created`, one `response.text.delta` per word, and
  `response.done` whose usage has the conversation so far as `input_tokens` and the reply's words
  (cut to `max_response_output_tokens`) as `output_tokens`; the reply then joins the conversation.
- `input_audio_buffer.commit` answers `input_audio_buffer.committed` and then a response of its own,
  as server-side voice activity detection does.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
from typing import Any

import orjson
from aiohttp import WSMsgType, hdrs, web

from relaygate.fakeupstream.admission import FakeUpstream
from relaygate.fakeupstream.behaviour import (
    FakeUpstreamError,
    UpstreamBehaviour,
    count_words,
    parse_bearer,
    parse_behaviour,
    reply_text,
    stream_pieces,
)
from relaygate.fakeupstream.openai import error_response

AUDIO_BYTES_PER_TOKEN = 100


def realtime_output_words(options: dict[str, Any], words: int, session_limit: object = None) -> int:
    """A response's words: cut to its `max_output_tokens`, else the session's `max_response_output_tokens`."""
    limit = options.get("max_output_tokens", options.get("max_response_output_tokens", session_limit))
    return min(words, limit) if isinstance(limit, int) and limit > 0 else words


class RealtimeSession:
    """One fake Realtime conversation: what it has heard, and the events it answers with."""

    def __init__(self, upstream: FakeUpstream, ws: web.WebSocketResponse, behaviour: UpstreamBehaviour):
        self.upstream = upstream
        self.ws = ws
        self.behaviour = behaviour
        self.text_tokens = 0
        self.audio_tokens = 0
        self.session_limit: object = None  # the session's max_response_output_tokens

    async def send(self, event: dict[str, Any]) -> None:
        if self.behaviour.chunk_delay_ms:
            await asyncio.sleep(self.behaviour.chunk_delay_ms / 1000)
        await self.ws.send_str(orjson.dumps({"event_id": self.upstream.next_id("event"), **event}).decode())

    async def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "session.update":
            session = event.get("session") or {}
            self.session_limit = session.get("max_response_output_tokens", self.session_limit)
            await self.send({"type": "session.updated", "session": event.get("session") or {}})
        elif kind == "conversation.item.create":
            item = event.get("item") or {}
            self.text_tokens += sum(
                count_words(part.get("text") or "") for part in item.get("content") or () if isinstance(part, dict)
            )
            await self.send({"type": "conversation.item.created", "item": item})
        elif kind == "input_audio_buffer.append":
            try:
                size = len(base64.b64decode(str(event.get("audio") or ""), validate=True))
            except binascii.Error:
                await self.error("'audio' must be base64")
                return
            self.audio_tokens += math.ceil(size / AUDIO_BYTES_PER_TOKEN)
        elif kind == "input_audio_buffer.commit":
            await self.send({"type": "input_audio_buffer.committed", "item_id": self.upstream.next_id("item")})
            await self.respond({})
        elif kind == "response.create":
            await self.respond(event.get("response") or {})
        else:
            await self.error(f"unsupported event type {kind!r}")

    async def respond(self, options: dict[str, Any]) -> None:
        response_id = self.upstream.next_id("resp")
        item_id = self.upstream.next_id("item")
        words = (
            self.behaviour.words
            if self.behaviour.ignore_limit
            else realtime_output_words(options, self.behaviour.words, self.session_limit)
        )
        started = {"id": response_id, "object": "realtime.response", "status": "in_progress", "output": []}
        await self.send({"type": "response.created", "response": {**started, "usage": None}})
        for piece in stream_pieces(words):
            await self.send(
                {"type": "response.text.delta", "response_id": response_id, "item_id": item_id, "delta": piece}
            )
        text = reply_text(words)
        await self.send({"type": "response.text.done", "response_id": response_id, "item_id": item_id, "text": text})
        input_tokens = self.text_tokens + self.audio_tokens
        usage = {
            "total_tokens": input_tokens + words,
            "input_tokens": input_tokens,
            "output_tokens": words,
            "input_token_details": {
                "cached_tokens": 0,
                "text_tokens": self.text_tokens,
                "audio_tokens": self.audio_tokens,
            },
            "output_token_details": {"text_tokens": words, "audio_tokens": 0},
        }
        item = {"id": item_id, "type": "message", "role": "assistant", "content": [{"type": "text", "text": text}]}
        done = {**started, "status": "completed", "output": [item], "usage": usage}
        await self.send({"type": "response.done", "response": done})
        self.text_tokens += words

    async def error(self, message: str) -> None:
        await self.send({"type": "error", "error": {"type": "invalid_request_error", "message": message}})


def add_realtime_routes(app: web.Application, upstream: FakeUpstream) -> None:
    async def realtime(request: web.Request) -> web.StreamResponse:
        key = parse_bearer(request.headers.get(hdrs.AUTHORIZATION))
        upstream.request_log.append(
            {
                "method": "GET",
                "path": request.path,
                "query": request.query_string,
                "authorization": request.headers.get(hdrs.AUTHORIZATION),
                "openai-beta": request.headers.get("OpenAI-Beta"),
            }
        )
        try:
            if key is None:
                raise FakeUpstreamError(401, "You didn't provide an API key.", code="invalid_api_key")
            behaviour = parse_behaviour(key)
            if behaviour.fail_status is not None:
                raise FakeUpstreamError(behaviour.fail_status, "fake-upstream refuses as its API key asks")
            if request.headers.get("OpenAI-Beta") != "realtime=v1":
                raise FakeUpstreamError(400, "the header OpenAI-Beta: realtime=v1 is required")
        except FakeUpstreamError as error:
            return error_response(error)
        ws = web.WebSocketResponse(max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        session = RealtimeSession(upstream, ws, behaviour)
        await session.send({"type": "session.created", "session": {"model": request.query.get("model")}})
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                event = orjson.loads(message.data)
            except orjson.JSONDecodeError:
                await session.error("the event is not valid JSON")
                continue
            await session.handle(event if isinstance(event, dict) else {})
        return ws

    app.router.add_get("/v1/realtime", realtime)
