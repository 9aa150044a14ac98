"""The Redis ledger across processes: shared holds, a Redis emptied mid-traffic, lost replies, dead processes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relaygate.billing import redis_ledger
from relaygate.billing.redis_ledger import RedisLedger
from relaygate.errors import InsufficientBalance, ServiceUnavailable, TokenQuotaExceeded
from relaygate.settings import Settings
from relaygate.store.redis import connect_redis
from tests.billing.test_ledger import books_of, database_with_account, record
from tests.support.postgres import migrated_database
from tests.support.redis import SERVER as REDIS_SERVER
from tests.support.redis import fresh_prefix


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    with migrated_database() as url, fresh_prefix() as prefix:
        yield Settings(
            database_url=url, data_dir=tmp_path, flush_interval=3600, redis_url=REDIS_SERVER, redis_prefix=prefix
        )


def run(settings: Settings, scenario: Any, processes: int = 2) -> None:
    """`scenario(engine, ledgers, user_id, token_id)` with one RedisLedger per simulated process."""

    async def main() -> None:
        engine, user_id, token_id = await database_with_account(settings)
        ledgers = []
        for _ in range(processes):
            redis = connect_redis(settings)
            assert redis is not None
            ledgers.append(RedisLedger(engine, redis, settings))
        await asyncio.gather(*(ledger.start() for ledger in ledgers))
        try:
            await scenario(engine, ledgers, user_id, token_id)
        finally:
            for ledger in ledgers:
                await ledger.close()
                await ledger._redis.aclose()
            await engine.dispose()

    asyncio.run(main())


async def wipe(settings: Settings) -> None:
    """What a Redis restart without persistence does to this deployment's keys."""
    redis = connect_redis(settings)
    assert redis is not None
    keys = [k async for k in redis.scan_iter(match=f"{settings.redis_prefix}*")]
    await redis.delete(*keys)
    await redis.aclose()


def test_holds_and_unwritten_charges_of_one_process_bind_the_others(settings: Settings) -> None:
    async def scenario(engine: Any, ledgers: list[RedisLedger], user_id: int, token_id: int) -> None:
        a, b = ledgers
        held = await a.reserve(token_id, user_id, 600, 500)
        with pytest.raises(TokenQuotaExceeded):
            await b.reserve(token_id, user_id, 600, 101)
        await a.settle(held, record(user_id, token_id, 300))  # charged, not yet written
        with pytest.raises(TokenQuotaExceeded):
            await b.reserve(token_id, user_id, 600, 301)
        other = await b.reserve(token_id, user_id, None, 700)  # unlimited: only the balance (1000 - 300)
        with pytest.raises(InsufficientBalance):
            await a.reserve(token_id, user_id, None, 1)
        await b.settle(other, record(user_id, token_id, 700))
        await a.flush()
        await b.flush()
        assert await books_of(engine, user_id, token_id) == (0, 1000, True)
        with pytest.raises(InsufficientBalance):
            await a.reserve(token_id, user_id, None, 1)

    run(settings, scenario)


def test_a_redis_emptied_mid_traffic_is_rebuilt_from_every_process_and_the_database(settings: Settings) -> None:
    async def scenario(engine: Any, ledgers: list[RedisLedger], user_id: int, token_id: int) -> None:
        a, b = ledgers
        in_flight = await a.reserve(token_id, user_id, None, 400)
        charged = await b.reserve(token_id, user_id, None, 100)
        await b.settle(charged, record(user_id, token_id, 100))  # unwritten when Redis goes
        await wipe(settings)
        with pytest.raises(ServiceUnavailable):  # the first to notice starts a generation and waits it out
            await a.reserve(token_id, user_id, None, 1)
        await asyncio.sleep(redis_ledger.WARM_UP_MS / 1000 + 0.2)  # b's heartbeat resynchronised it
        with pytest.raises(InsufficientBalance):  # 1000 - 400 held by a - 100 charged by b = 500
            await b.reserve(token_id, user_id, None, 501)
        last = await b.reserve(token_id, user_id, None, 500)
        await a.settle(in_flight, record(user_id, token_id, 400))
        await b.settle(last, record(user_id, token_id, 500))
        await a.flush()
        await b.flush()
        assert await books_of(engine, user_id, token_id) == (0, 1000, True)
        with pytest.raises(InsufficientBalance):
            await a.reserve(token_id, user_id, None, 1)

    run(settings, scenario)


def test_a_lost_reply_is_set_right_from_what_the_process_knows(settings: Settings) -> None:
    async def scenario(engine: Any, ledgers: list[RedisLedger], user_id: int, token_id: int) -> None:
        [a] = ledgers
        hold = await a.reserve(token_id, user_id, None, 400)
        real = a._settle_script

        async def lost(*args: Any, **kwargs: Any) -> Any:
            await real(*args, **kwargs)  # applied on the server, but the reply never arrives
            raise ConnectionError("reply lost")

        a._settle_script = lost  # type: ignore[assignment]
        await a.settle(hold, record(user_id, token_id, 0))
        await a.flush()  # the settlement has been reported (and its reply lost)
        a._settle_script = real
        hold = await a.reserve(token_id, user_id, None, 1000)  # the whole balance is free again
        await a.settle(hold, record(user_id, token_id, 1000))
        await a.flush()
        assert await books_of(engine, user_id, token_id) == (0, 1000, True)

    run(settings, scenario, processes=1)


def test_the_shares_of_a_process_that_died_are_taken_back(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redis_ledger, "SILENCE_LIMIT_MS", 1500)

    async def scenario(engine: Any, ledgers: list[RedisLedger], user_id: int, token_id: int) -> None:
        a, b = ledgers
        await b.reserve(token_id, user_id, None, 900)
        b._stopping.set()  # b dies: it stops beating, its hold stays in Redis
        await b._beating  # type: ignore[misc]
        with pytest.raises(InsufficientBalance):
            await a.reserve(token_id, user_id, None, 101)
        await asyncio.sleep(2.5)
        hold = await a.reserve(token_id, user_id, None, 1000)
        await a.settle(hold, record(user_id, token_id, 0))

    run(settings, scenario)
