"""Concurrent misses of one cold key share one database read (tokens, their owners, Redis seeds)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from relaygate.auth.access import AccessCache
from relaygate.billing.redis_ledger import RedisLedger
from relaygate.settings import Settings
from relaygate.store.database import create_engine
from relaygate.store.migrate import upgrade_to_head
from relaygate.store.redis import connect_redis
from relaygate.tokens.service import create_tokens
from relaygate.tokens.spec import TokenSpec
from relaygate.users.service import NewUser, create_user
from tests.support.postgres import fresh_database
from tests.support.redis import SERVER as REDIS_SERVER
from tests.support.redis import fresh_prefix


def count_reads_of(engine: AsyncEngine, table: str) -> list[str]:
    """Every SELECT on `table` the engine runs from now on."""
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and f"FROM {table}" in statement:
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    return seen


async def account(engine: AsyncEngine) -> tuple[int, int, str]:
    await upgrade_to_head(engine)
    async with engine.begin() as conn:
        user = await create_user(conn, NewUser(name="alice", password="password-123", balance=10_000))
        [token] = await create_tokens(conn, user["id"], TokenSpec(quota_limit=5_000))
    return user["id"], token["id"], token["key"]


def test_a_burst_on_a_cold_key_reads_the_token_and_its_owner_once(tmp_path: Path) -> None:
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
            unknown = await asyncio.gather(*(cache.token_for_key("sk-" + "x" * 48) for _ in range(50)))
            assert unknown == [None] * 50
            assert len(token_reads) == 2
        finally:
            await engine.dispose()

    asyncio.run(scenario())


@pytest.fixture
def redis_settings(tmp_path: Path) -> Iterator[Settings]:
    with fresh_database() as url, fresh_prefix() as prefix:
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
        finally:
            await ledger.close()
            await redis.aclose()
            await engine.dispose()

    asyncio.run(scenario())
