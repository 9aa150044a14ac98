"""The usage record: one row per relayed request, as it travels from the relay to the batch writer.

Immutable and typed, so a missing or misspelt field fails where the record is made, not at flush
time. A NamedTuple rather than a frozen dataclass: one is made per request, and a frozen
dataclass of twenty fields takes several times as long to build.
`quota` is what the request was charged (never more than its hold); `overrun` is what the usage the
upstream reported would have cost beyond that, recorded against the channel and never billed.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class UsageRecord(NamedTuple):
    request_id: str
    user_id: int
    token_id: int | None
    channel_id: int | None
    endpoint: str
    model: str
    upstream_model: str
    group: str  # the group that served the request: its multiplier is the one billed
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    quota: int
    latency_ms: int
    status_code: int
    stream: bool
    client_ip: str
    created_at: int
    overrun: int = 0
    cache_write_5m_tokens: int = 0  # parts of prompt_tokens written to a prompt cache, by kind
    cache_write_1h_tokens: int = 0

    def row(self) -> dict[str, Any]:
        """The record as the usage_records table's columns."""
        return self._asdict()


COLUMNS: tuple[str, ...] = UsageRecord._fields
