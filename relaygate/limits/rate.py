"""Per-token rate limits: requests per minute, tokens per minute, concurrent requests.

`MemoryRateLimiter` counts in this process (sliding one-minute windows); the scale-out form
keeps the same interface with the counters in Redis.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

from relaygate.auth.access import TokenAccess
from relaygate.errors import RateLimitExceeded

WINDOW = 60.0


@dataclass
class Permit:
    token_id: int
    counted_concurrency: bool
    released: bool = False


class RateLimiter(Protocol):
    def acquire(self, token: TokenAccess) -> Permit:
        """Admit one request or raise 429 `rate_limit_exceeded` with `Retry-After`."""

    def release(self, permit: Permit, tokens_used: int) -> None:
        """The request ended having used `tokens_used` tokens (they count toward the tpm window)."""


@dataclass
class _Window:
    requests: deque[float] = field(default_factory=deque)
    tokens: deque[tuple[float, int]] = field(default_factory=deque)
    token_sum: int = 0
    in_flight: int = 0

    def trim(self, now: float) -> None:
        while self.requests and self.requests[0] <= now - WINDOW:
            self.requests.popleft()
        while self.tokens and self.tokens[0][0] <= now - WINDOW:
            self.token_sum -= self.tokens.popleft()[1]


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._windows: dict[int, _Window] = {}

    def acquire(self, token: TokenAccess) -> Permit:
        if token.rpm is None and token.tpm is None and token.max_concurrent is None:
            return Permit(token.id, counted_concurrency=False)
        now = time.monotonic()
        window = self._windows.setdefault(token.id, _Window())
        window.trim(now)
        if token.max_concurrent is not None and window.in_flight >= token.max_concurrent:
            raise _limited(f"{token.max_concurrent} concurrent requests", 1)
        if token.rpm is not None and len(window.requests) >= token.rpm:
            raise _limited(f"{token.rpm} requests per minute", window.requests[0] + WINDOW - now)
        if token.tpm is not None and window.token_sum >= token.tpm:
            raise _limited(f"{token.tpm} tokens per minute", window.tokens[0][0] + WINDOW - now)
        window.requests.append(now)
        window.in_flight += 1
        return Permit(token.id, counted_concurrency=True)

    def release(self, permit: Permit, tokens_used: int) -> None:
        if permit.released or not permit.counted_concurrency:
            return
        permit.released = True
        window = self._windows[permit.token_id]
        window.in_flight -= 1
        if tokens_used > 0:
            window.tokens.append((time.monotonic(), tokens_used))
            window.token_sum += tokens_used


def _limited(limit: str, retry_after: float) -> RateLimitExceeded:
    seconds = max(1, math.ceil(retry_after))
    return RateLimitExceeded(
        f"This API key is limited to {limit}: retry after {seconds} s, or ask for a higher limit.",
        headers={"Retry-After": str(seconds)},
    )
