"""OpenAI's rate-limit response headers, from the counters of a request's token and account.

`x-ratelimit-{limit,remaining,reset}-requests` appear when an rpm limit applies, the `-tokens`
trio when a tpm limit does; of a token's and an account's limit, the one with less remaining is
reported. A reset is the time until the oldest counted request (or tokens) leaves the one-minute
window, so that the remaining count goes up again, in OpenAI's duration format (`20ms`, `1s`, `6m0s`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from relaygate.limits.rate import Standing


def ratelimit_headers(standings: Sequence[Standing]) -> dict[str, str]:
    requests: list[tuple[int, int, float]] = []
    tokens: list[tuple[int, int, float]] = []
    for standing in standings:
        limits = standing.subject.limits
        if limits.rpm is not None:
            requests.append((limits.rpm, standing.requests, standing.requests_reset))
        if limits.tpm is not None:
            tokens.append((limits.tpm, standing.tokens, standing.tokens_reset))
    headers: dict[str, str] = {}
    if requests:
        headers.update(_trio("requests", *min(requests, key=_remaining)))
    if tokens:
        headers.update(_trio("tokens", *min(tokens, key=_remaining)))
    return headers


def _remaining(entry: tuple[int, int, float]) -> int:
    return entry[0] - entry[1]


def _trio(what: str, limit: int, used: int, reset: float) -> dict[str, str]:
    return {
        f"x-ratelimit-limit-{what}": str(limit),
        f"x-ratelimit-remaining-{what}": str(max(0, limit - used)),
        f"x-ratelimit-reset-{what}": duration(reset),
    }


def duration(seconds: float) -> str:
    """`20ms`, `1s`, `1.5s`, `6m0s`, `1h0m0s`: the format of OpenAI's reset headers (Go's durations)."""
    millis = max(0, round(seconds * 1000))
    if millis < 1000:
        return f"{millis}ms"
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
