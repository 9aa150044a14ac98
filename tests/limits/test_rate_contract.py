"""One contract for every rate limiter: the in-process one and the one counting in Redis.

Both run on a clock the test moves, so a minute passes at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from relaygate.auth.access import TokenAccess, UserAccess
from relaygate.errors import RateLimitExceeded
from relaygate.limits.rate import MemoryRateLimiter, Permit, RateLimiter
from relaygate.limits.redis_rate import RedisRateLimiter
from relaygate.settings import Settings
from tests.support.redis import SERVER, fresh_prefix


@dataclass
class Clock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


Scenario = Callable[[RateLimiter, Clock], Awaitable[None]]


@pytest.fixture(params=["memory", "redis"])
def run(request: pytest.FixtureRequest) -> Iterator[Callable[[Scenario], None]]:
    """Runs a scenario against a fresh limiter of each kind, on a clock the scenario moves."""
    if request.param == "memory":
        yield lambda scenario: asyncio.run(scenario(MemoryRateLimiter(clock := Clock()), clock))
        return
    with fresh_prefix() as prefix:
        settings = Settings(redis_prefix=prefix)

        async def on_redis(scenario: Scenario) -> None:
            client = Redis.from_url(SERVER)
            try:
                clock = Clock()
                await scenario(RedisRateLimiter(client, settings, clock=clock), clock)
            finally:
                await client.aclose()

        yield lambda scenario: asyncio.run(on_redis(scenario))


def token(token_id: int = 1, user_id: int = 1, **limits: int) -> TokenAccess:
    return TokenAccess(
        id=token_id,
        user_id=user_id,
        status="enabled",
        expires_at=None,
        quota_limit=None,
        models=frozenset(),
        networks=(),
        group=None,
        rpm=limits.get("rpm"),
        tpm=limits.get("tpm"),
        max_concurrent=limits.get("max_concurrent"),
    )


def user(user_id: int = 1, **limits: int) -> UserAccess:
    return UserAccess(id=user_id, name=f"user{user_id}", status="enabled", group="default", **limits)


async def refused(limiter: RateLimiter, tok: TokenAccess, owner: UserAccess) -> RateLimitExceeded:
    with pytest.raises(RateLimitExceeded) as caught:
        await limiter.acquire(tok, owner)
    return caught.value


def test_no_limits_admit_everything_without_headers(run: Callable[[Scenario], None]) -> None:
    async def scenario(limiter: RateLimiter, clock: Clock) -> None:
        for _ in range(50):
            permit = await limiter.acquire(token(), user())
            assert permit.headers() == []
            await limiter.release(permit, 1000)

    run(scenario)


def test_rpm_admits_that_many_per_sliding_minute(run: Callable[[Scenario], None]) -> None:
    async def scenario(limiter: RateLimiter, clock: Clock) -> None:
        tok, owner = token(rpm=3), user()
        for _ in range(3):
            await limiter.release(await limiter.acquire(tok, owner), 0)
            clock.now += 10
        error = await refused(limiter, tok, owner)  # the first request is 30 s old
        assert error.code == "rate_limit_exceeded"
        assert error.status == 429
        assert error.headers["Retry-After"] == "30"
        assert "3 requests per minute" in error.message
        assert "API key" in error.message
        assert error.headers["x-ratelimit-remaining-requests"] == "0"
        assert error.headers["x-ratelimit-reset-requests"] == "30s"
        clock.now += 30  # the first request leaves the window
        permit = await limiter.acquire(tok, owner)
        assert dict(permit.headers())[b"x-ratelimit-remaining-requests"] == b"0"
        await refused(limiter, tok, owner)

    run(scenario)


def test_success_headers_report_limit_remaining_and_reset(run: Callable[[Scenario], None]) -> None:
    async def scenario(limiter: RateLimiter, clock: Clock) -> None:
        tok, owner = token(rpm=10, tpm=1000), user()
        first = await limiter.acquire(tok, owner)
        await limiter.release(first, 150)
        clock.now += 1.5
        second = await limiter.acquire(tok, owner)
        assert {name.decode(): value.decode() for name, value in second.headers()} == {
            "x-ratelimit-limit-requests": "10",
            "x-ratelimit-remaining-requests": "8",
            "x-ratelimit-reset-requests": "58.5s",
            "x-ratelimit-limit-tokens": "1000",
            "x-ratelimit-remaining-tokens": "850",
            "x-ratelimit-reset-tokens": "58.5s",
        }

    run(scenario)


def test_tpm_counts_tokens_of_finished_requests(run: Callable[[Scenario], None]) -> None:
    async def scenario(limiter: RateLimiter, clock: Clock) -> None:
        tok, owner = token(tpm=100), user()
        await limiter.release(await limiter.acquire(tok, owner), 60)
        clock.now += 20
        await limiter.release(await limiter.acquire(tok, owner), 50)  # 110 tokens in the last minute
        clock.now += 5
        error = await refused(limiter, tok, owner)
        assert "100 tokens per minute" in error.message
        # Below 100 again when the first 60 tokens leave the window, 35 s from now.
        assert error.headers["Retry-After"] == "35"
        assert error.headers["x-ratelimit-remaining-tokens"] == "0"
        clock.now += 35
        permit = await limiter.acquire(tok, owner)
        assert dict(permit.headers())[b"x-ratelimit-remaining-tokens"] == b"50"

    run(scenario)


def test_concurrency_frees_a_slot_on_release(run: Callable[[Scenario], None]) -> None:
    async def scenario(limiter: RateLimiter, clock: Clock) -> None:
        tok, owner = token(max_concurrent=2), user()
        first = await limiter.acquire(tok, owner)
        await limiter.acquire(tok, owner)
        error = await refused(limiter, tok, owner)
        assert "2 concurrent requests" in error.message
        assert error.headers["Retry-After"] == "1"
        await limiter.release(first, 0)
        await limiter.acquire(tok, owner)

    run(scenario)


def test_release_twice_frees_one_slot(run: Callable[[Scenario], None]) -> None:
    async def scenario(limiter: RateLimiter, clock: Clock) -> None:
        tok, owner = token(max_concurrent=2, tpm=100), user()
        first = await limiter.acquire(tok, owner)
        await limiter.acquire(tok, owner)
        await limiter.release(first, 40)
        await limiter.release(first, 40)
        third = await limiter.acquire(tok, owner)
        assert dict(third.headers())[b"x-ratelimit-remaining-tokens"] == b"60"  # 40 counted once
        await refused(limiter, tok, owner)  # two in flight: the second release freed nothing

    run(scenario)


def test_account_limit_spans_all_of_the_users_tokens(run: Callable[[Scenario], None]) -> None:
    async def scenario(limiter: RateLimiter, clock: Clock) -> None:
        owner = user(rpm=3)
        for token_id in (1, 2, 3):
            await limiter.acquire(token(token_id), owner)
        error = await refused(limiter, token(4), owner)
        assert "your account is limited to 3 requests per minute over all its API keys" in error.message
        await limiter.acquire(token(5, user_id=2), user(2, rpm=3))  # another account counts apart

    run(scenario)


def test_tighter_of_token_and_account_is_reported(run: Callable[[Scenario], None]) -> None:
    async def scenario(limiter: RateLimiter, clock: Clock) -> None:
        owner = user(rpm=5)
        for _ in range(3):
            await limiter.acquire(token(1, rpm=100), owner)
        permit = await limiter.acquire(token(2, rpm=10), owner)
        headers = dict(permit.headers())
        assert (headers[b"x-ratelimit-limit-requests"], headers[b"x-ratelimit-remaining-requests"]) == (b"5", b"1")

    run(scenario)


def test_refused_request_consumes_nothing(run: Callable[[Scenario], None]) -> None:
    async def scenario(limiter: RateLimiter, clock: Clock) -> None:
        owner = user(rpm=2, max_concurrent=5)
        tight = token(1, rpm=1)
        await limiter.acquire(tight, owner)
        for _ in range(5):
            error = await refused(limiter, tight, owner)  # the token refuses: the account counts nothing
            assert "API key" in error.message
        permit = await limiter.acquire(token(2), owner)
        assert dict(permit.headers())[b"x-ratelimit-remaining-requests"] == b"0"
        error = await refused(limiter, token(3), owner)
        assert "account" in error.message
        clock.now += 61
        permits: list[Permit] = [await limiter.acquire(token(2), owner) for _ in range(2)]
        assert len(permits) == 2

    run(scenario)


def test_account_refusal_counts_nothing_toward_the_token(run: Callable[[Scenario], None]) -> None:
    async def scenario(limiter: RateLimiter, clock: Clock) -> None:
        tok = token(1, rpm=2)
        await limiter.acquire(tok, user(max_concurrent=1))
        for _ in range(3):
            await refused(limiter, tok, user(max_concurrent=1))
        await limiter.acquire(tok, user())  # the account's limit removed: the token has 1 request left
        await refused(limiter, tok, user())

    run(scenario)


def test_memory_limiter_forgets_idle_keys() -> None:
    async def scenario() -> None:
        clock = Clock()
        limiter = MemoryRateLimiter(clock)
        limiter.SWEEP_EVERY = 3
        for token_id in (1, 2):
            await limiter.release(await limiter.acquire(token(token_id, rpm=5), user()), 0)
        clock.now += 61
        await limiter.acquire(token(3, rpm=5), user())  # the third admission sweeps the idle windows
        assert list(limiter._windows) == [("token", 3)]

    asyncio.run(scenario())
