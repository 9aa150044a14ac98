"""Upstream model discovery: the model list a channel's upstream offers, asked in its own protocol.

OpenAI and compatible servers: `GET /v1/models` (Bearer); Azure: `GET /openai/models?api-version=`
(`api-key`); Anthropic: `GET /v1/models` (`x-api-key`, `anthropic-version`); Gemini:
`GET /v1beta/models` (`x-goog-api-key`). The task APIs (Midjourney, Suno) have no list: their
models are the gateway's per-call names.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp

from relaygate.channels.registry import Channel
from relaygate.errors import UpstreamError, UpstreamUnreachable
from relaygate.relay.openai.adapter import AZURE_API_VERSION
from relaygate.settings import Settings
from relaygate.upstream.client import upstream_base, upstream_message

TASK_MODELS = {
    "midjourney": ["mj_imagine", "mj_action", "mj_blend", "mj_describe"],
    "suno": ["suno_music", "suno_lyrics"],
}
ANTHROPIC_VERSION = "2023-06-01"


def models_request(channel: Channel) -> tuple[str, dict[str, str]]:
    """The URL and headers that ask the channel's upstream for its models."""
    if channel.type == "azure":
        base, _, query = channel.base_url.partition("?")
        version = parse_qs(query).get("api-version", [AZURE_API_VERSION])[0]
        return f"{base.rstrip('/')}/openai/models?api-version={version}", {"api-key": channel.key}
    if channel.type == "anthropic":
        return upstream_base(channel) + "/v1/models?limit=1000", {
            "x-api-key": channel.key,
            "anthropic-version": ANTHROPIC_VERSION,
        }
    if channel.type == "gemini":
        return upstream_base(channel, ("/v1beta", "/v1")) + "/v1beta/models?pageSize=1000", {
            "x-goog-api-key": channel.key
        }
    return upstream_base(channel) + "/v1/models", {"Authorization": f"Bearer {channel.key}"}


def model_ids(channel_type: str, data: Any) -> list[str]:
    """The model names in a list answer of the channel's protocol."""
    if not isinstance(data, dict):
        return []
    if channel_type == "gemini":
        entries = data.get("models") or []
        return sorted({str(entry["name"]).removeprefix("models/") for entry in entries if "name" in entry})
    entries = data.get("data") or []
    return sorted({str(entry["id"]) for entry in entries if isinstance(entry, dict) and "id" in entry})


async def discover_models(channel: Channel, settings: Settings) -> dict[str, Any]:
    """`{channel_id, models, new}`: what the upstream lists, and which of those the channel does not serve yet."""
    if channel.type in TASK_MODELS:
        found = TASK_MODELS[channel.type]
    else:
        found = await _fetch(channel, settings)
    return {"channel_id": channel.id, "models": found, "new": [model for model in found if model not in channel.models]}


async def _fetch(channel: Channel, settings: Settings) -> list[str]:
    url, headers = models_request(channel)
    timeout = aiohttp.ClientTimeout(total=settings.connect_timeout + 30)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url, headers=headers) as response:
            body = await response.read()
            status = response.status
            data = await response.json(content_type=None) if status == 200 else None
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise UpstreamUnreachable(
            f"The upstream's model list could not be read ({type(exc).__name__}); check the channel's base URL."
        ) from exc
    if status != 200:
        host = urlsplit(url).hostname
        detail = upstream_message(body) if status not in (401, 403) else "the upstream refused the channel's key"
        raise UpstreamError(502, f"The upstream at {host} answered {status} to the model list: {detail}")
    return model_ids(channel.type, data)
