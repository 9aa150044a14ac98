"""One relayed request as the pipeline sees it, and the interface every protocol adapter implements."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from relaygate.auth.credentials import Family
from relaygate.billing.charge import Usage
from relaygate.channels.registry import Channel
from relaygate.errors import GatewayError
from relaygate.relay.stream_meter import StreamMeter
from relaygate.upstream.client import UpstreamRequest


@dataclass(slots=True)
class RelayCall:
    family: Family
    endpoint: str  # recorded in usage records, e.g. "chat.completions"
    upstream_path: str
    body: dict[str, Any]
    raw: bytes
    model: str
    stream: bool
    request_id: str
    generates: bool = True  # False when the answer has no output tokens to hold (embeddings, token counts)
    free: bool = False  # token counting: authenticated and model-checked, never billed
    upstream_headers: dict[str, str] = field(default_factory=dict)  # client headers the protocol passes on
    estimate: Usage | None = None  # what to reserve, when the route knows better than the prompt's size
    default_output: int | None = None  # the protocol's own output limit when the client sets none
    output_limit: int | None = None  # set by the hold: every attempt goes upstream with this limit
    started: float = field(default_factory=time.perf_counter)

    @property
    def writes_cache(self) -> bool:
        """Whether the request may write a prompt cache (Anthropic's `cache_control` marks)."""
        return b"cache_control" in self.raw


class StreamTap(Protocol):
    """Watches a relayed event stream: decides what reaches the client, meters it, finds the usage."""

    meter: StreamMeter  # fed every upstream event by the relay, against the call's output limit

    def forward(self, event: bytes) -> bytes:
        """What reaches the client for this event: the event itself, nothing, or its translation."""

    def close(self) -> bytes:
        """What reaches the client after the upstream's last event."""

    def cut(self) -> bytes:
        """The client's end of a stream stopped at its output limit: the protocol's length stop."""

    def fail(self, error: GatewayError) -> bytes:
        """The client's end of a stream the upstream broke off: the protocol's error event."""

    def usage(self) -> Usage:
        """The usage reported by the upstream, or counted from what was streamed."""


class Adapter(Protocol):
    """What the pipeline needs from an upstream protocol."""

    channel_types: frozenset[str]  # the channel types that speak this protocol

    def build_request(self, channel: Channel, call: RelayCall) -> UpstreamRequest: ...

    def response_usage(self, call: RelayCall, data: Any) -> Usage: ...

    def stream_tap(self, call: RelayCall) -> StreamTap: ...

    def client_body(self, call: RelayCall, status: int, body: bytes, usage: Usage) -> bytes:
        """The whole answer as the client gets it."""
