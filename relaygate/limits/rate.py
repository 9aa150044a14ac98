"""Rate limits per token and per account: requests per minute, tokens per minute, concurrent requests.

A request passes when it fits both its token's limits and its owner's (over all of the owner's
tokens); a refused request counts toward nothing. Windows slide over the last minute: rpm counts
the requests admitted in it, tpm the prompt + completion tokens of requests that finished in it.
Two implementations keep this contract (tests/limits runs one suite against both):
`MemoryRateLimiter` here, counting in this process, and `RedisRateLimiter` (limits/redis_rate.py),
counting in Redis for every gateway process that shares it.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from relaygate.auth.access import TokenAccess, UserAccess
from relaygate.errors import RateLimitExceeded
from relaygate.limits.headers import ratelimit_headers

WINDOW = 60.0
Scope = Literal["token", "account"]
Kind = Literal["rpm", "tpm", "concurrency"]


@dataclass(frozen=True)
class Limits:
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None

    @property
    def any(self) -> bool:
        return self.rpm is not None or self.tpm is not None or self.max_concurrent is not None


@dataclass(frozen=True)
class Subject:
    """Whose counters a request uses: a token's, or an account's."""

    scope: Scope
    id: int
    limits: Limits


@dataclass(frozen=True)
class Standing:
    """One subject's counters as a request sees them (including the request, once admitted)."""

    subject: Subject
    requests: int  # admitted in the last minute
    requests_reset: float  # seconds until the oldest of them leaves the window (0: none)
    tokens: int  # used by requests that finished in the last minute
    tokens_reset: float  # seconds until the oldest of those tokens leave the window (0: none)


@dataclass(slots=True)
class Permit:
    """An admitted request; give it back to `release` exactly once (more calls do nothing)."""

    id: str
    subjects: tuple[Subject, ...]
    standings: tuple[Standing, ...] = ()
    released: bool = False
    local: bool = False  # counted in process memory (no limits, or Redis unreachable)

    def headers(self) -> list[tuple[bytes, bytes]]:
        """OpenAI's x-ratelimit-* response headers for this request (none when no limit applies)."""
        return [(name.encode(), value.encode()) for name, value in ratelimit_headers(self.standings).items()]


class RateLimiter(Protocol):
    async def acquire(self, token: TokenAccess, user: UserAccess) -> Permit:
        """Admit one request of `token` (owned by `user`) or raise 429 `rate_limit_exceeded`.

        The error carries `Retry-After` (whole seconds) and the x-ratelimit-* headers; a refused
        request changes no counter.
        """

    async def release(self, permit: Permit, tokens_used: int) -> None:
        """The request ended having used `tokens_used` tokens: they count toward tpm for a minute,
        and its concurrency slot is free again. Releasing a permit twice does nothing."""


def subjects_of(token: TokenAccess, user: UserAccess) -> tuple[Subject, ...]:
    """The token's and the account's limits, leaving out whichever has none."""
    subjects: tuple[Subject, ...] = ()
    # Most keys and accounts have no limit: nothing is built for those (every request asks).
    if token.rpm is not None or token.tpm is not None or token.max_concurrent is not None:
        subjects = (Subject("token", token.id, Limits(token.rpm, token.tpm, token.max_concurrent)),)
    if user.rpm is not None or user.tpm is not None or user.max_concurrent is not None:
        subjects += (Subject("account", user.id, Limits(user.rpm, user.tpm, user.max_concurrent)),)
    return subjects


def new_permit_id() -> str:
    return uuid.uuid4().hex


def refusal(subject: Subject, kind: Kind, retry_after: float, standings: tuple[Standing, ...]) -> RateLimitExceeded:
    """The 429 for a request refused by `subject`'s `kind` limit: which limit, when to retry, how to fix it."""
    seconds = max(1, math.ceil(retry_after))
    limits = subject.limits
    limit = {
        "rpm": f"{_plural(limits.rpm, 'request')} per minute",
        "tpm": f"{_plural(limits.tpm, 'token')} per minute",
        "concurrency": f"{_plural(limits.max_concurrent, 'concurrent request')}",
    }[kind]
    if subject.scope == "token":
        message = (
            f"Rate limit reached: this API key is limited to {limit}. Retry after {seconds} s, "
            "or raise the key's limit in Token Management."
        )
    else:
        message = (
            f"Rate limit reached: your account is limited to {limit} over all its API keys. "
            f"Retry after {seconds} s, or ask the administrator to raise the account's limit."
        )
    headers = {"Retry-After": str(seconds), **ratelimit_headers(standings)}
    return RateLimitExceeded(message, headers=headers)


def _plural(count: int | None, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


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

    def standing(self, subject: Subject, now: float) -> Standing:
        return Standing(
            subject,
            requests=len(self.requests),
            requests_reset=self.requests[0] + WINDOW - now if self.requests else 0.0,
            tokens=self.token_sum,
            tokens_reset=self.tokens[0][0] + WINDOW - now if self.tokens else 0.0,
        )

    def refusal_of(self, subject: Subject, now: float) -> tuple[Kind, float] | None:
        """Which limit refuses one more request now, and in how many seconds it may pass; None: it fits."""
        limits = subject.limits
        if limits.max_concurrent is not None and self.in_flight >= limits.max_concurrent:
            return "concurrency", 1.0
        if limits.rpm is not None and len(self.requests) >= limits.rpm:
            return "rpm", self.requests[len(self.requests) - limits.rpm] + WINDOW - now
        if limits.tpm is not None and self.token_sum >= limits.tpm:
            return "tpm", self._tokens_free_at(limits.tpm) + WINDOW - now
        return None

    def _tokens_free_at(self, tpm: int) -> float:
        """When the window's tokens fall below `tpm` again: the time of the entry whose expiry does it."""
        remaining = self.token_sum
        for at, amount in self.tokens:
            remaining -= amount
            if remaining < tpm:
                return at
        return self.tokens[-1][0]


class MemoryRateLimiter:
    """Counts in this process: right for one gateway process; with several, each counts alone.

    `clock` (seconds, monotonic) is for tests that move time forward.
    """

    SWEEP_EVERY = 10_000  # admissions between drops of idle windows, so memory follows the active keys

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[tuple[str, int], _Window] = {}
        self._admitted = 0

    async def acquire(self, token: TokenAccess, user: UserAccess) -> Permit:
        return self.acquire_now(subjects_of(token, user))

    async def release(self, permit: Permit, tokens_used: int) -> None:
        self.release_now(permit, tokens_used)

    def acquire_now(self, subjects: tuple[Subject, ...]) -> Permit:
        """`acquire` without awaiting: checks and counts every subject in one step of the event loop."""
        if not subjects:
            return Permit("", (), local=True)  # no limit applies: nothing to count
        permit = Permit(new_permit_id(), subjects, local=True)
        now = self._clock()
        windows = [self._windows.setdefault((s.scope, s.id), _Window()) for s in subjects]
        for window in windows:
            window.trim(now)
        for subject, window in zip(subjects, windows, strict=True):
            refused = window.refusal_of(subject, now)
            if refused is not None:
                standings = tuple(w.standing(s, now) for s, w in zip(subjects, windows, strict=True))
                raise refusal(subject, refused[0], refused[1], standings)
        for window in windows:
            window.requests.append(now)
            window.in_flight += 1
        self._admitted += 1
        if self._admitted % self.SWEEP_EVERY == 0:
            self._drop_idle(now)
        permit.standings = tuple(w.standing(s, now) for s, w in zip(subjects, windows, strict=True))
        return permit

    def _drop_idle(self, now: float) -> None:
        for name, window in list(self._windows.items()):
            window.trim(now)
            if not (window.requests or window.tokens or window.in_flight):
                del self._windows[name]

    def release_now(self, permit: Permit, tokens_used: int) -> None:
        if permit.released or not permit.subjects:
            return
        permit.released = True
        now = self._clock()
        for subject in permit.subjects:
            window = self._windows.setdefault((subject.scope, subject.id), _Window())
            window.in_flight = max(0, window.in_flight - 1)
            if tokens_used > 0:
                window.tokens.append((now, tokens_used))
                window.token_sum += tokens_used
