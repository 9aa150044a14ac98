"""A request for a model served only by another chat protocol: converted both ways through the IR.

`ConvertingAdapter` wraps the channel protocol's own adapter, so the pipeline stays one path: the
request is converted once, the wrapped adapter builds each attempt's upstream request and finds
the upstream's usage (billing stays as exact as for a native call), and the answer (whole, or
event by event) is rendered in the client's protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import orjson

from relaygate.auth.credentials import Family
from relaygate.billing.charge import Usage
from relaygate.channels.registry import Channel, ChannelRegistry
from relaygate.errors import GatewayError, UpstreamError
from relaygate.relay.anthropic.adapter import AnthropicAdapter
from relaygate.relay.call import Adapter, RelayCall, StreamTap
from relaygate.relay.convert.codecs import ANTHROPIC, GEMINI, OPENAI, RESPONSES, Codec, StreamParser, StreamRenderer
from relaygate.relay.convert.ir import ChatRequest, ChatResponse, Finish, UsageReport
from relaygate.relay.convert.structured import AnswerToolParser, as_content
from relaygate.relay.gemini.adapter import MODEL_PLACEHOLDER, GeminiAdapter
from relaygate.relay.openai.adapter import OpenAIAdapter
from relaygate.relay.unserved import unserved
from relaygate.upstream.client import UpstreamRequest, upstream_message


@dataclass(frozen=True)
class Target:
    """A channel protocol a converted request can go to."""

    adapter: Adapter
    codec: Codec
    endpoint: str
    path: str
    stream_path: str


TARGETS = (
    Target(OpenAIAdapter(), OPENAI, "chat.completions", "/v1/chat/completions", "/v1/chat/completions"),
    Target(AnthropicAdapter(), ANTHROPIC, "messages", "/v1/messages", "/v1/messages"),
    Target(
        GeminiAdapter(),
        GEMINI,
        "generateContent",
        f"/v1beta/models/{MODEL_PLACEHOLDER}:generateContent",
        f"/v1beta/models/{MODEL_PLACEHOLDER}:streamGenerateContent?alt=sse",
    ),
)
CLIENT_CODECS = {
    (Family.OPENAI, "chat.completions"): OPENAI,
    (Family.OPENAI, "responses"): RESPONSES,
    (Family.ANTHROPIC, "messages"): ANTHROPIC,
    (Family.GEMINI, "generateContent"): GEMINI,
    (Family.GEMINI, "streamGenerateContent"): GEMINI,
}


def client_codec(call: RelayCall) -> Codec | None:
    """The codec of the call's protocol, when its endpoint is a chat one that converts."""
    return CLIENT_CODECS.get((call.family, call.endpoint))


class ConvertingAdapter:
    def __init__(self, client: Codec, target: Target, call: RelayCall):
        self.channel_types = target.adapter.channel_types
        self._client = client
        self._target = target
        client.refuse_unconvertible(call.body)
        self._request: ChatRequest = client.parse_request(call.body)
        self._request.stream = call.stream
        body = target.codec.render_request(self._request, call.model)
        self._upstream = replace(
            call,
            endpoint=target.endpoint,
            upstream_path=target.stream_path if call.stream else target.path,
            body=body,
            raw=orjson.dumps(body),
            upstream_headers={},
        )

    def build_request(self, channel: Channel, call: RelayCall) -> UpstreamRequest:
        return self._target.adapter.build_request(channel, self._for_upstream(call))

    def _for_upstream(self, call: RelayCall) -> RelayCall:
        """The converted call, with the output limit the hold set on the client's call."""
        if self._upstream.output_limit != call.output_limit:
            self._upstream = replace(self._upstream, output_limit=call.output_limit)
        return self._upstream

    def response_usage(self, call: RelayCall, data: Any) -> Usage:
        return self._target.adapter.response_usage(self._upstream, data)

    def parse_answer(self, data: Any) -> ChatResponse:
        """The upstream's whole answer in the IR, a structured answer (`convert.structured`) as text."""
        return as_content(self._request, self._target.codec.parse_response(data))

    def client_codec(self) -> tuple[Codec, ChatRequest]:
        """The client's codec and request, for answers rendered elsewhere."""
        return self._client, self._request

    def client_body(self, call: RelayCall, status: int, body: bytes, usage: Usage) -> bytes:
        """The upstream's answer in the client's protocol, with the usage billed; an error in the client's shape."""
        if not 200 <= status < 300:
            raise UpstreamError(status, upstream_message(body) or f"The upstream provider answered {status}.")
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise UpstreamError(502, "The upstream provider's answer is not JSON, so it cannot be converted.") from exc
        response = self.parse_answer(data)
        response.usage = usage
        rendered = self._client.render_response(response, call.model)
        if call.endpoint == "streamGenerateContent":  # without alt=sse Gemini answers a JSON array
            rendered = [rendered]
        return orjson.dumps(rendered)

    def stream_tap(self, call: RelayCall) -> ConvertingTap:
        return ConvertingTap(
            self._target.adapter.stream_tap(self._for_upstream(call)),
            AnswerToolParser(self._target.codec.stream_parser())
            if self._request.response_format is not None
            else self._target.codec.stream_parser(),
            self._client.stream_renderer(self._request, call.model),
        )


class ConvertingTap:
    """The wrapped adapter's tap watches and meters the upstream's events; the client gets them converted."""

    def __init__(self, upstream: StreamTap, parser: StreamParser, renderer: StreamRenderer):
        self._upstream = upstream
        self._parser = parser
        self._renderer = renderer
        self.meter = upstream.meter

    def forward(self, event: bytes) -> bytes:
        self._upstream.forward(event)
        return b"".join(self._renderer.render(delta) for delta in self._parser.feed(event))

    def close(self) -> bytes:
        # The client is told the usage it is billed for, even when the upstream reported none.
        return self._renderer.render(UsageReport(self._upstream.usage())) + self._renderer.close()

    def cut(self) -> bytes:
        return self._renderer.render(Finish("length")) + self.close()

    def fail(self, error: GatewayError) -> bytes:
        # The client is told the usage it is billed for what came before the break, where its protocol can say it.
        return self._renderer.render(UsageReport(self._upstream.usage())) + self._renderer.fail(error)

    def usage(self) -> Usage:
        return self._upstream.usage()


def choose_adapter(
    channels: ChannelRegistry, group: str, call: RelayCall, native: Adapter, usable: frozenset[str]
) -> Adapter:
    """The route's own adapter when a channel of its protocol serves the model, else a converting one.

    `usable`: the groups the caller may use, to tell an unknown model from one not available now.
    """
    if channels.serves(group, call.model, native.channel_types):
        return native
    codec = client_codec(call)
    if codec is not None:
        for target in TARGETS:
            if channels.serves(group, call.model, target.adapter.channel_types):
                return ConvertingAdapter(codec, target, call)
    raise unserved(channels, group, usable, call.model, native.channel_types)
