"""The OpenAI protocol toward an upstream: request building, usage from responses and streams."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, quote

import orjson

from relaygate.auth.credentials import Family
from relaygate.billing.charge import Usage
from relaygate.channels.registry import Channel
from relaygate.errors import GatewayError
from relaygate.redact import redact_upstream_body
from relaygate.relay.call import RelayCall, StreamTap
from relaygate.relay.error_bodies import stream_error_event
from relaygate.relay.json_body import with_fields
from relaygate.relay.openai.usage import choice_text, counted_prompt, counted_usage, usage_from
from relaygate.relay.sse import event_json
from relaygate.relay.stream_meter import StreamMeter
from relaygate.upstream.client import UpstreamRequest, upstream_base

STREAM_USAGE_ENDPOINTS = frozenset({"chat.completions", "completions"})
AZURE_API_VERSION = "2024-10-21"  # the GA version used when the channel's base URL names none
# OpenAI's reasoning models refuse `max_tokens`; every other OpenAI-compatible server knows it best.
REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")
DONE = b"data: [DONE]\n\n"


def openai_endpoint(channel: Channel, path: str, upstream_model: str) -> tuple[str, dict[str, str]]:
    """URL and credential header for an OpenAI-protocol path on this channel.

    Azure OpenAI serves a model as a deployment: `{base}/openai/deployments/{deployment}/chat/completions
    ?api-version=...` with an `api-key` header; the deployment is the (mapped) model name, and the API
    version may be given in the channel's base URL as `?api-version=`.
    """
    if channel.type != "azure":
        return upstream_base(channel) + path, {"Authorization": f"Bearer {channel.key}"}
    base, _, query = channel.base_url.partition("?")
    version = parse_qs(query).get("api-version", [AZURE_API_VERSION])[0]
    base = base.rstrip("/").removesuffix("/openai")
    deployment = quote(upstream_model, safe="")
    return f"{base}/openai/deployments/{deployment}{path.removeprefix('/v1')}?api-version={version}", {
        "api-key": channel.key
    }


def client_wants_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def output_limit_field(call: RelayCall, upstream_model: str) -> str:
    """The field the call's output limit goes upstream in: the client's own, else the endpoint's."""
    if call.endpoint == "responses":
        return "max_output_tokens"
    if call.endpoint != "chat.completions":
        return "max_tokens"
    if "max_completion_tokens" in call.body:
        return "max_completion_tokens"
    if "max_tokens" in call.body or not REASONING_MODEL.match(upstream_model):
        return "max_tokens"
    return "max_completion_tokens"


class OpenAIAdapter:
    channel_types = frozenset({"openai", "azure"})

    def build_request(self, channel: Channel, call: RelayCall) -> UpstreamRequest:
        body = call.body
        upstream_model = channel.upstream_model(call.model)
        changes: dict[str, Any] = {}
        if upstream_model != call.model:
            changes["model"] = upstream_model
        if call.stream and call.endpoint in STREAM_USAGE_ENDPOINTS and not client_wants_usage(body):
            options = body.get("stream_options")
            extra = options if isinstance(options, dict) else {}
            changes["stream_options"] = {**extra, "include_usage": True}
        if call.output_limit is not None:
            field = output_limit_field(call, upstream_model)
            changes[field] = call.output_limit
            if field == "max_completion_tokens" and "max_tokens" in body:
                body = {name: value for name, value in body.items() if name != "max_tokens"}
        url, credential = openai_endpoint(channel, call.upstream_path, upstream_model)
        raw = call.raw if body is call.body else orjson.dumps(body)
        return UpstreamRequest(
            url=url,
            headers={**credential, "Content-Type": "application/json"},
            body=with_fields(body, raw, changes),
        )

    def response_usage(self, call: RelayCall, data: Any) -> Usage:
        return usage_from(data) or counted_usage(call.body, data)

    def stream_tap(self, call: RelayCall) -> StreamTap:
        return OpenAIStreamTap(call, client_wants_usage(call.body))

    def client_body(self, call: RelayCall, status: int, body: bytes, usage: Usage) -> bytes:
        # An error answer is passed on in the client's own protocol, without what looks like a credential.
        return body if 200 <= status < 300 else redact_upstream_body(body)


class OpenAIStreamTap:
    """Finds the usage chunk; hides it when only the gateway asked for it; ends a stream cut or broken."""

    def __init__(self, call: RelayCall, client_wants_usage: bool):
        self._call = call
        self._client_wants_usage = client_wants_usage
        self._reported: Usage | None = None
        self._first: bytes | None = None
        self.meter = StreamMeter(call.output_limit, chunk_text)

    def forward(self, event: bytes) -> bytes:
        if self._first is None:
            self._first = event
        if b'"usage"' not in event or b'"usage":null' in event:
            return event
        data = event_json(event)
        usage = usage_from(data)
        if usage is not None:
            self._reported = usage
            if not self._client_wants_usage and data is not None:
                # Some upstreams (LiteLLM) put the usage on a chunk that still has choices: keep those.
                if not data.get("choices"):
                    return b""
                return b"data: " + orjson.dumps({name: v for name, v in data.items() if name != "usage"}) + b"\n\n"
        return event

    def close(self) -> bytes:
        return b""

    def cut(self) -> bytes:
        head = event_json(self._first or b"") or {}
        chunk: dict[str, Any] = {name: head[name] for name in ("id", "object", "created", "model") if name in head}
        choice: dict[str, Any] = {"index": 0, "finish_reason": "length"}
        if self._call.endpoint == "completions":
            choice["text"] = ""
        else:
            choice["delta"] = {}
        ending = b"data: " + orjson.dumps({**chunk, "choices": [choice]}) + b"\n\n"
        if self._client_wants_usage:
            usage = self.usage()
            counts = {"prompt_tokens": usage.prompt, "completion_tokens": usage.completion}
            counts["total_tokens"] = usage.prompt + usage.completion
            ending += b"data: " + orjson.dumps({**chunk, "choices": [], "usage": counts}) + b"\n\n"
        return ending + DONE

    def fail(self, error: GatewayError) -> bytes:
        return stream_error_event(Family.OPENAI, error)

    def usage(self) -> Usage:
        if self._reported is not None:
            return self._reported
        return Usage(prompt=counted_prompt(self._call.body), completion=self.meter.output_tokens())


def chunk_text(event: bytes) -> str:
    """The output text of one chat or legacy completion chunk (content, reasoning, tool arguments)."""
    data = event_json(event)
    choices = data.get("choices") if data is not None else None
    if not isinstance(choices, list):
        return ""
    return "".join(choice_text(choice.get("delta") or choice) for choice in choices if isinstance(choice, dict))
