"""What only the Redis limiter does: keys under the deployment's prefix, slots that lapse when a
process dies, and a request served (counted per process) while Redis is unreachable."""

from __future__ import annotations

import asyncio
import logging

import pytest
from redis.asyncio import Redis

from relaygate.errors import RateLimitExceeded
from relaygate.limits.redis_rate import RedisRateLimiter
from relaygate.settings import Settings
from tests.limits.test_rate_contract import Clock, token, user
from tests.support.redis import SERVER, fresh_prefix


def test_counters_live_under_the_prefix() -> None:
    with fresh_prefix() as prefix:

        async def main() -> list[bytes]:
            client = Redis.from_url(SERVER)
            try:
                limiter = RedisRateLimiter(client, Settings(redis_prefix=prefix))
                await limiter.release(await limiter.acquire(token(7, rpm=5), user(3, max_concurrent=2)), 12)
                return sorted([k async for k in client.scan_iter(match=f"{prefix}*")])
            finally:
                await client.aclose()

        keys = asyncio.run(main())
    assert [k.decode().removeprefix(prefix) for k in keys] == [
        "rate:account:3:requests",
        "rate:account:3:tokens",
        "rate:token:7:requests",
        "rate:token:7:tokens",
    ]  # the in-flight sets are empty again after the release, so Redis dropped them


def test_slot_of_a_dead_process_lapses_after_the_lease() -> None:
    with fresh_prefix() as prefix:

        async def main() -> None:
            client = Redis.from_url(SERVER)
            try:
                clock = Clock()
                dead = RedisRateLimiter(client, Settings(redis_prefix=prefix), lease=30, clock=clock)
                await dead.acquire(token(max_concurrent=1), user())  # never released: its process died
                alive = RedisRateLimiter(client, Settings(redis_prefix=prefix), lease=30, clock=clock)
                with pytest.raises(RateLimitExceeded):
                    await alive.acquire(token(max_concurrent=1), user())
                clock.now += 31
                await alive.acquire(token(max_concurrent=1), user())
            finally:
                await client.aclose()

        asyncio.run(main())


def test_a_live_process_renews_its_slots_beyond_the_lease() -> None:
    with fresh_prefix() as prefix:

        async def main() -> None:
            client = Redis.from_url(SERVER)
            try:
                clock = Clock()
                settings = Settings(redis_prefix=prefix)
                live = RedisRateLimiter(client, settings, lease=30, renew_every=0.01, clock=clock)
                other = RedisRateLimiter(client, settings, lease=30, clock=clock)
                long_session = await live.acquire(token(max_concurrent=1), user())
                for _ in range(4):  # two minutes, renewed along the way
                    clock.now += 29
                    await asyncio.sleep(0.1)
                    with pytest.raises(RateLimitExceeded):
                        await other.acquire(token(max_concurrent=1), user())
                await live.release(long_session, 0)
                await other.acquire(token(max_concurrent=1), user())
            finally:
                await client.aclose()

        asyncio.run(main())


def test_unreachable_redis_counts_in_process_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
        try:
            limiter = RedisRateLimiter(client, Settings(redis_prefix="rgtest:unreachable:"))
            calls = 0
            script = limiter._acquire

            async def counted(**kwargs: object) -> object:
                nonlocal calls
                calls += 1
                return await script(**kwargs)

            limiter._acquire = counted  # type: ignore[assignment]
            permits = [await limiter.acquire(token(rpm=2), user()) for _ in range(2)]
            assert calls == 1  # after a failure, Redis is left alone for a moment: no wait per request
            with pytest.raises(RateLimitExceeded):
                await limiter.acquire(token(rpm=2), user())
            for permit in permits:
                await limiter.release(permit, 10)
        finally:
            await client.aclose()

    with caplog.at_level(logging.WARNING, logger="relaygate.limits.redis_rate"):
        asyncio.run(main())
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "per process" in warnings[0].getMessage()
