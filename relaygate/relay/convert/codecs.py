"""Each chat protocol's side of the conversion, as one record: parse into and render from the IR."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from relaygate.errors import GatewayError
from relaygate.relay.convert import (
    anthropic_in,
    anthropic_out,
    gemini_in,
    gemini_out,
    openai_in,
    openai_out,
    responses_in,
    responses_out,
)
from relaygate.relay.convert.ir import ChatRequest, ChatResponse, StreamDelta


class StreamParser(Protocol):
    def feed(self, event: bytes) -> list[StreamDelta]:
        """The deltas in one upstream event."""


class StreamRenderer(Protocol):
    def render(self, delta: StreamDelta) -> bytes:
        """The client's events for one delta (often none yet)."""

    def close(self) -> bytes:
        """The client's closing events, once the upstream's stream ended."""

    def fail(self, error: GatewayError) -> bytes:
        """The client's end of a stream the upstream broke off: the protocol's error event."""


@dataclass(frozen=True)
class Codec:
    parse_request: Callable[[dict[str, Any]], ChatRequest]
    render_request: Callable[[ChatRequest, str], dict[str, Any]]  # (request, model)
    parse_response: Callable[[Any], ChatResponse]
    render_response: Callable[[ChatResponse, str], Any]
    stream_parser: Callable[[], StreamParser]
    stream_renderer: Callable[[ChatRequest, str], StreamRenderer]
    refuse_unconvertible: Callable[[dict[str, Any]], None] = lambda body: None  # raises BadRequest


def _parse_object(parse: Callable[[dict[str, Any]], ChatResponse]) -> Callable[[Any], ChatResponse]:
    return lambda data: parse(data if isinstance(data, dict) else {})


OPENAI = Codec(
    parse_request=openai_in.parse_request,
    render_request=openai_out.render_request,
    parse_response=_parse_object(openai_in.parse_response),
    render_response=openai_out.render_response,
    stream_parser=openai_in.StreamParser,
    stream_renderer=lambda request, model: openai_out.StreamRenderer(model, request.include_usage),
    refuse_unconvertible=openai_in.refuse_unconvertible,
)
ANTHROPIC = Codec(
    parse_request=anthropic_in.parse_request,
    render_request=anthropic_out.render_request,
    parse_response=_parse_object(anthropic_in.parse_response),
    render_response=anthropic_out.render_response,
    stream_parser=anthropic_in.StreamParser,
    stream_renderer=lambda request, model: anthropic_out.StreamRenderer(model),
)
GEMINI = Codec(
    parse_request=gemini_in.parse_request,
    render_request=lambda request, model: gemini_out.render_request(request),
    parse_response=gemini_in.parse_response,
    render_response=gemini_out.render_response,
    stream_parser=gemini_in.StreamParser,
    stream_renderer=lambda request, model: gemini_out.StreamRenderer(model),
    refuse_unconvertible=gemini_in.refuse_unconvertible,
)
RESPONSES = Codec(  # OpenAI's Responses API: a client protocol, converted to any chat channel
    parse_request=responses_in.parse_request,
    render_request=responses_out.render_request,
    parse_response=_parse_object(responses_in.parse_response),
    render_response=responses_out.render_response,
    stream_parser=responses_in.StreamParser,
    stream_renderer=responses_out.StreamRenderer,
    refuse_unconvertible=responses_in.refuse_unconvertible,
)
