"""OpenAI's media and moderation routes: images, speech, transcriptions, moderations.

How each is billed (the model's price decides between per call and per token):

- `/v1/images/generations`: a per-call price is charged per image returned (`n` are held before);
  a model priced per token (gpt-image-1) is charged from the upstream's `usage`.
- `/v1/audio/speech`: each character of `input` counts as one input token at the input price (or
  the per-call price). The audio comes back as the upstream sent it, with its content type.
- `/v1/audio/transcriptions`: the multipart upload goes upstream untouched (only the `model` part is
  renamed for a channel that maps it). Token usage, when the upstream reports it (gpt-4o-transcribe;
  with `stream=true` in the `transcript.text.done` event), is charged at the token prices; otherwise
  (whisper-1's `duration` usage) the per-call price is charged, so price such models per call. Text
  formats (`text`, `srt`, `vtt`) report no usage: they are charged the hold (the default output tokens,
  or the per-call price).
- `/v1/moderations`: token usage when the upstream reports it, otherwise free.
"""

from __future__ import annotations

from typing import Any

from relaygate.auth.check import Principal
from relaygate.auth.credentials import Family
from relaygate.billing.charge import Usage
from relaygate.billing.estimate import MEDIA_BYTES_PER_TOKEN, prompt_token_bound
from relaygate.channels.registry import Channel
from relaygate.errors import BadRequest, GatewayError
from relaygate.relay.asgi import Receive, Scope, Send, header_map, read_body
from relaygate.relay.call import RelayCall, StreamTap
from relaygate.relay.error_bodies import stream_error_event
from relaygate.relay.multipart import find_form_field, form_boundary, replace_field
from relaygate.relay.openai.adapter import OpenAIAdapter, openai_endpoint
from relaygate.relay.openai.usage import usage_from
from relaygate.relay.pipeline import relay
from relaygate.relay.requests import authenticate_request, parse_request_json, required_model
from relaygate.relay.routing import RelayRoute
from relaygate.relay.sse import event_json
from relaygate.relay.stream_meter import StreamMeter
from relaygate.runtime import Runtime
from relaygate.upstream.client import UpstreamRequest

DEFAULT_IMAGE_MODEL = "dall-e-2"  # what OpenAI generates with when the request names no model
DEFAULT_MODERATION_MODEL = "omni-moderation-latest"


def token_usage(data: Any) -> Usage | None:
    """The upstream's usage when it counts tokens (not, say, whisper's `{"type": "duration"}`)."""
    usage = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(usage, dict) or not any(name in usage for name in ("input_tokens", "prompt_tokens")):
        return None
    return usage_from(data)


class ImagesAdapter(OpenAIAdapter):
    def response_usage(self, call: RelayCall, data: Any) -> Usage:
        images = data.get("data") if isinstance(data, dict) else None
        count = len(images) if isinstance(images, list) else image_count(call.body)
        reported = token_usage(data) or Usage()
        return Usage(prompt=reported.prompt, completion=reported.completion, cached=reported.cached, calls=count)


class SpeechAdapter(OpenAIAdapter):
    def response_usage(self, call: RelayCall, data: Any) -> Usage:
        return speech_usage(call.body)


class TranscriptionAdapter(OpenAIAdapter):
    def build_request(self, channel: Channel, call: RelayCall) -> UpstreamRequest:
        body = call.raw
        upstream_model = channel.upstream_model(call.model)
        if upstream_model != call.model:
            content_type = call.upstream_headers["Content-Type"]
            field = find_form_field(body, form_boundary(content_type), "model")
            if field is not None:
                body = replace_field(body, field, upstream_model)
        url, credential = openai_endpoint(channel, call.upstream_path, upstream_model)
        return UpstreamRequest(url=url, headers={**credential, **call.upstream_headers}, body=body)

    def response_usage(self, call: RelayCall, data: Any) -> Usage:
        if isinstance(data, dict):
            return token_usage(data) or Usage(calls=1)
        # A text format (text, srt, vtt) reports no usage at all: charged what was held, so that a
        # token-priced model is never served free (a per-call price is charged once either way).
        return call.estimate or Usage(calls=1)

    def stream_tap(self, call: RelayCall) -> StreamTap:
        return TranscriptionStreamTap(call.estimate or Usage(calls=1))


class TranscriptionStreamTap:
    """A streamed transcription reports its usage in the `transcript.text.done` event (else: the hold)."""

    def __init__(self, held: Usage) -> None:
        self._held = held
        self._reported: Usage | None = None
        self.meter = StreamMeter(None, lambda event: "")  # a transcript is as long as its audio: no limit

    def forward(self, event: bytes) -> bytes:
        if b"transcript.text.done" in event:
            data = event_json(event)
            if data is not None and data.get("type") == "transcript.text.done":
                self._reported = token_usage(data)
        return event

    def close(self) -> bytes:
        return b""

    def cut(self) -> bytes:
        return b""

    def fail(self, error: GatewayError) -> bytes:
        return stream_error_event(Family.OPENAI, error)

    def usage(self) -> Usage:
        return self._reported or self._held


class ModerationsAdapter(OpenAIAdapter):
    def response_usage(self, call: RelayCall, data: Any) -> Usage:
        return token_usage(data) or Usage(calls=0)


def image_count(body: dict[str, Any]) -> int:
    n = body.get("n", 1)
    if n is None:
        return 1
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise BadRequest("'n' must be a positive integer: the number of images to generate.", param="n")
    return n


def speech_usage(body: dict[str, Any]) -> Usage:
    text = body.get("input")
    return Usage(prompt=len(text) if isinstance(text, str) else 0)


async def _json_call(
    rt: Runtime, scope: Scope, receive: Receive, request_id: str, path: str, default_model: str | None
) -> tuple[Principal, RelayCall]:
    """Authenticate, read the JSON body and find the model (`default_model` when the body names none)."""
    headers = header_map(scope)
    principal = await authenticate_request(rt, scope, Family.OPENAI, headers)
    raw = await read_body(receive, headers, rt.settings.max_body_bytes)
    body = parse_request_json(raw)
    model = default_model if default_model is not None and "model" not in body else required_model(body)
    endpoint = path.removeprefix("/v1/").replace("/", ".")
    call = RelayCall(
        Family.OPENAI, endpoint, path, body, raw, model, stream=False, request_id=request_id, generates=False
    )
    return principal, call


async def images_route(rt: Runtime, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
    principal, call = await _json_call(rt, scope, receive, request_id, "/v1/images/generations", DEFAULT_IMAGE_MODEL)
    call.estimate = Usage(
        prompt=prompt_token_bound(call.body),
        completion=rt.settings.default_max_output_tokens,
        calls=image_count(call.body),
    )
    await relay(rt, principal, call, IMAGES, receive, send)


async def speech_route(rt: Runtime, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
    principal, call = await _json_call(rt, scope, receive, request_id, "/v1/audio/speech", None)
    call.estimate = speech_usage(call.body)
    await relay(rt, principal, call, SPEECH, receive, send)


async def moderations_route(rt: Runtime, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
    principal, call = await _json_call(rt, scope, receive, request_id, "/v1/moderations", DEFAULT_MODERATION_MODEL)
    await relay(rt, principal, call, MODERATIONS, receive, send)


async def transcriptions_route(rt: Runtime, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
    headers = header_map(scope)
    principal = await authenticate_request(rt, scope, Family.OPENAI, headers)
    content_type = headers.get("content-type", "")
    boundary = form_boundary(content_type)
    raw = await read_body(receive, headers, rt.settings.max_body_bytes)
    field = find_form_field(raw, boundary, "model")
    model = required_model({"model": field.value.strip() if field is not None else None})
    stream = find_form_field(raw, boundary, "stream")
    call = RelayCall(
        Family.OPENAI,
        "audio.transcriptions",
        "/v1/audio/transcriptions",
        {"model": model},
        raw,
        model,
        stream=stream is not None and stream.value.strip().lower() == "true",
        request_id=request_id,
        generates=False,
        upstream_headers={"Content-Type": content_type},
        estimate=Usage(prompt=len(raw) // MEDIA_BYTES_PER_TOKEN + 1, completion=rt.settings.default_max_output_tokens),
    )
    await relay(rt, principal, call, TRANSCRIPTIONS, receive, send)


IMAGES = ImagesAdapter()
SPEECH = SpeechAdapter()
TRANSCRIPTIONS = TranscriptionAdapter()
MODERATIONS = ModerationsAdapter()

ROUTES = [
    RelayRoute("POST", "/v1/images/generations", Family.OPENAI, images_route),
    RelayRoute("POST", "/v1/audio/speech", Family.OPENAI, speech_route),
    RelayRoute("POST", "/v1/audio/transcriptions", Family.OPENAI, transcriptions_route),
    RelayRoute("POST", "/v1/moderations", Family.OPENAI, moderations_route),
]
