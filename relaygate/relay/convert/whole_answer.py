"""A whole JSON answer to a stream request, turned into the client's stream.

Some upstreams (LiteLLM's `/v1/messages` mock, simple OpenAI-compatible servers) answer a stream
request with one JSON body. Forwarded as it is, the client's SDK fails on it; so it is parsed like
any whole answer and rendered as the client's event sequence, its usage the one billed.
"""

from __future__ import annotations

import orjson

from relaygate.billing.charge import Usage
from relaygate.errors import UpstreamError
from relaygate.relay.call import Adapter, RelayCall
from relaygate.relay.convert.adapter import ConvertingAdapter, client_codec
from relaygate.relay.convert.codecs import Codec
from relaygate.relay.convert.ir import (
    ChatRequest,
    ChatResponse,
    Finish,
    Start,
    StreamDelta,
    Text,
    TextDelta,
    ToolArgumentsDelta,
    ToolCall,
    ToolCallStart,
    UsageReport,
)

JSON_TYPE = "application/json"


def is_whole_answer(content_type: str) -> bool:
    """Whether an upstream's answer to a stream request is one JSON body rather than events."""
    return content_type.split(";")[0].strip().lower() == JSON_TYPE


def answer_as_stream(call: RelayCall, adapter: Adapter, body: bytes, usage: Usage) -> bytes | None:
    """The client's events for the whole answer `body`; None for a call with no chat stream to render."""
    codec = client_codec(call)
    if codec is None:
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UpstreamError(502, "The upstream provider's answer is neither a stream nor JSON.") from exc
    if isinstance(adapter, ConvertingAdapter):
        client, request = adapter.client_codec()
        response = adapter.parse_answer(data)
    else:
        client, request, response = codec, codec.parse_request(call.body), codec.parse_response(data)
    response.usage = usage
    return render_stream(client, request, response, call.model)


def render_stream(client: Codec, request: ChatRequest, response: ChatResponse, model: str) -> bytes:
    renderer = client.stream_renderer(request, model)
    return b"".join(renderer.render(delta) for delta in deltas_of(response)) + renderer.close()


def deltas_of(response: ChatResponse) -> list[StreamDelta]:
    """A whole answer as the deltas a stream of it would have had."""
    deltas: list[StreamDelta] = [Start(response.id, Usage(response.usage.prompt, 0, response.usage.cached))]
    calls = 0
    for part in response.parts:
        if isinstance(part, Text) and part.text:
            deltas.append(TextDelta(part.text))
        elif isinstance(part, ToolCall):
            deltas += [ToolCallStart(calls, part.id, part.name), ToolArgumentsDelta(calls, part.arguments)]
            calls += 1
    return [*deltas, UsageReport(response.usage), Finish(response.stop)]
