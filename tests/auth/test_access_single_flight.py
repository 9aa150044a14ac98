"""Concurrent misses of one cold key share one database read (a token with its owner, Redis seeds)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from relaygate.auth.access import AccessCache
from relaygate.billing.redis_ledger import RedisLedger
from relaygate.settings import Settings
from relaygate.store.database import create_engine
from relaygate.store.redis import connect_redis
from tests.support.access import account, count_reads_of
from tests.support.postgres import migrated_database
from tests.support.redis import SERVER as REDIS_SERVER
from tests.support.redis import fresh_prefix


def test_a_burst_on_a_cold_key_reads_the_token_with_its_owner_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
        try:
            user_id, _, key = await account(engine)
            cache = AccessCache(engine)
            token_reads, user_reads = count_reads_of(engine, "tokens"), count_reads_of(engine, "users")
            found = await asyncio.gather(*(cache.token_for_key(key) for _ in range(100)))
            owners = await asyncio.gather(*(cache.user(user_id) for _ in range(100)))
            assert {token.id for token in found if token} == {found[0].id if found[0] else -1}
            assert {owner.name for owner in owners if owner} == {"alice"}
            assert (len(token_reads), len(user_reads)) == (1, 1)
            assert token_reads == user_reads  # one statement read both
            unknown = await asyncio.gather(*(cache.token_for_key("sk-" + "x" * 48) for _ in range(50)))
            assert unknown == [None] * 50
            assert len(token_reads) == 2
        finally:
            await engine.dispose()

    asyncio.run(scenario())


@pytest.fixture
def redis_settings(tmp_path: Path) -> Iterator[Settings]:
    with migrated_database() as url, fresh_prefix() as prefix:
        yield Settings(
            database_url=url, data_dir=tmp_path, flush_interval=3600, redis_url=REDIS_SERVER, redis_prefix=prefix
        )


def test_a_burst_on_a_cold_redis_ledger_key_seeds_it_once(redis_settings: Settings) -> None:
    async def scenario() -> None:
        engine = create_engine(redis_settings.sqlalchemy_url)
        redis = connect_redis(redis_settings)
        assert redis is not None
        ledger = RedisLedger(engine, redis, redis_settings)
        try:
            user_id, token_id, _ = await account(engine)
            await ledger.start()
            user_reads, token_reads = count_reads_of(engine, "users"), count_reads_of(engine, "tokens")
            holds = await asyncio.gather(*(ledger.reserve(token_id, user_id, 5_000, 10) for _ in range(60)))
            assert len(holds) == 60
            assert (len(user_reads), len(token_reads)) == (1, 1)
            assert user_reads == token_reads  # both hashes seeded from one read
        finally:
            await ledger.close()
            await redis.aclose()
            await engine.dispose()

    asyncio.run(scenario())
