"""Calls to upstream providers: pooled keep-alive connections, channel choice with retries.

A retryable failure (connect error, timeout, 401/402/403 from the upstream's own auth or billing, 429,
5xx) moves to another channel, up to `RELAYGATE_RETRIES` times, always before anything reached the
client. Every answer is shown to channel health (`channels/health.py`): a bad key leaves at once and
the retry may take another key of the same channel; failures in a row open the channel's circuit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from relaygate.channels.health import HealthMonitor, Verdict, judge, unreachable
from relaygate.channels.registry import Channel
from relaygate.errors import GatewayError, UpstreamError, UpstreamUnreachable
from relaygate.redact import redact_upstream_text
from relaygate.settings import Settings
from relaygate.upstream.http_client import ConnectionPool, HttpClientError, UpstreamResponse

log = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({401, 402, 403, 408, 429}) | frozenset(range(500, 600))


@dataclass(slots=True)
class UpstreamRequest:
    """What to send to one channel: built per attempt, since each channel maps the model its own way."""

    url: str
    headers: dict[str, str]
    body: bytes


def upstream_base(channel: Channel, versions: tuple[str, ...] = ("/v1",)) -> str:
    """The channel's base URL without a trailing API version: channels may be configured either way."""
    base = channel.base_url.rstrip("/")
    for version in versions:
        if base.endswith(version):
            return base[: -len(version)]
    return base


BuildRequest = Callable[[Channel], UpstreamRequest]
PickChannel = Callable[[set[int]], Channel | None]


class UpstreamClient:
    def __init__(self, settings: Settings):
        self._retries = settings.retries
        self._pool = ConnectionPool(settings.connect_timeout, settings.upstream_timeout)
        self.health: HealthMonitor | None = None  # set by the runtime; a one-off client (a test) has none

    async def close(self) -> None:
        self._pool.close()

    async def send(self, pick: PickChannel, build: BuildRequest) -> tuple[Channel, UpstreamResponse]:
        """The first channel's response that is not a retryable failure; raises when every try failed."""
        tried: set[int] = set()
        failure: GatewayError | None = None
        for _ in range(self._retries + 1):
            channel = pick(tried)
            if channel is None:
                break
            tried.add(channel.id)
            request = build(channel)
            try:
                response = await self._pool.post(request.url, request.headers, request.body)
            except (TimeoutError, HttpClientError) as exc:
                log.warning("upstream %s unreachable: %s", channel.name, type(exc).__name__)
                failure = UpstreamUnreachable(
                    f"The upstream provider could not be reached ({type(exc).__name__}); try again later."
                )
                await self.judged(channel, unreachable(type(exc).__name__), tried)
                continue
            if response.status not in RETRYABLE_STATUSES:
                if self.health is not None:
                    self.health.served(channel)
                return channel, response
            failure, verdict = await _failure_from(channel, response)
            await self.judged(channel, verdict, tried)
        raise failure or UpstreamUnreachable("No upstream channel is available for this model; try again later.")

    async def judged(self, channel: Channel, verdict: Verdict | None, tried: set[int]) -> None:
        """Tell channel health what an attempt on `channel` showed (None: it was served)."""
        if self.health is None:
            return
        await self.health.failed(channel, verdict)
        if verdict is not None and verdict.kind == "key" and self.health.has_keys(channel.id):
            tried.discard(channel.id)  # the bad key is out: another key of the same channel may serve


async def _failure_from(channel: Channel, response: UpstreamResponse) -> tuple[GatewayError, Verdict | None]:
    try:
        body = await response.read()
    except (TimeoutError, HttpClientError):
        body = b""
    finally:
        response.release()
    log.warning("upstream %s answered %d", channel.name, response.status)
    verdict = judge(response.status, body, redact_upstream_text(upstream_message(body), (channel.key,)))
    if verdict is not None and verdict.kind == "key":
        # The upstream refused the gateway's own key or account: the client can do nothing about it.
        return UpstreamError(
            502,
            "The upstream provider refused the gateway's credentials or quota; the operator must fix the channel key.",
        ), verdict
    message = redact_upstream_text(upstream_message(body), (channel.key,))
    return UpstreamError(response.status, message or f"The upstream provider answered {response.status}."), verdict


def upstream_message(body: bytes) -> str:
    """The message of an upstream error body, whatever its protocol's shape, without anything shaped
    like a credential (callers that know the channel also take out its keys)."""
    return redact_upstream_text(_raw_upstream_message(body))


def _raw_upstream_message(body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(error, str):
        return error
    return ""
