"""A channel test: one tiny real request through the channel's protocol, timed."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from relaygate.auth.credentials import Family
from relaygate.channels.registry import Channel
from relaygate.errors import GatewayError
from relaygate.relay.anthropic.adapter import AnthropicAdapter
from relaygate.relay.call import Adapter, RelayCall
from relaygate.relay.gemini.adapter import GeminiAdapter
from relaygate.relay.openai.adapter import OpenAIAdapter
from relaygate.settings import Settings
from relaygate.upstream.client import UpstreamClient


def probe_call(channel: Channel, model: str) -> tuple[RelayCall, Adapter]:
    """`ping` with one output token, in the protocol of the channel's type."""
    messages = [{"role": "user", "content": "ping"}]
    adapter: Adapter
    if channel.type == "anthropic":
        family, path, adapter = Family.ANTHROPIC, "/v1/messages", AnthropicAdapter()
        body: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": 1}
    elif channel.type == "gemini":
        family, path, adapter = Family.GEMINI, "/v1beta/models/{model}:generateContent", GeminiAdapter()
        body = {"contents": [{"role": "user", "parts": [{"text": "ping"}]}], "generationConfig": {"maxOutputTokens": 1}}
    else:
        family, path, adapter = Family.OPENAI, "/v1/chat/completions", OpenAIAdapter()
        body = {"model": model, "messages": messages, "max_tokens": 1}
    call = RelayCall(
        family=family,
        endpoint="probe",
        upstream_path=path,
        body=body,
        raw=orjson.dumps(body),
        model=model,
        stream=False,
        request_id=uuid.uuid4().hex,
    )
    return call, adapter


async def probe_channel(channel: Channel, settings: Settings, model: str | None = None) -> dict[str, Any]:
    """Send `ping` with max_tokens 1; report the status, latency and any error message."""
    model = model or sorted(channel.models)[0]
    call, adapter = probe_call(channel, model)
    client = UpstreamClient(settings.model_copy(update={"retries": 0}))
    started = time.perf_counter()
    try:
        _, response = await client.send(
            lambda tried: None if tried else channel, lambda c: adapter.build_request(c, call)
        )
        async with response:
            await response.read()
        status, error = (
            response.status,
            None if response.status < 400 else f"upstream answered {response.status}",
        )
    except GatewayError as exc:
        status, error = exc.status, exc.message
    finally:
        await client.close()
    return {
        "channel_id": channel.id,
        "model": model,
        "ok": error is None,
        "status": status,
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        "error": error,
    }
