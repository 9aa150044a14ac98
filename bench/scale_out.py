"""The scale-out scenario of `make bench`: `relaygate serve --workers 2` on PostgreSQL and Redis.

The database is a fresh one on the PostgreSQL server of the machine (RELAYGATE_BENCH_POSTGRES_URL,
default postgresql://postgres@127.0.0.1:5432/test), dropped afterwards; the Redis keys live under a
prefix of their own on RELAYGATE_BENCH_REDIS_URL (default redis://127.0.0.1:6379/0), deleted afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterator

import asyncpg
import redis as redis_client

POSTGRES = os.environ.get("RELAYGATE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("RELAYGATE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
WORKERS = 2


@contextlib.contextmanager
def postgres_and_redis(*, redis: bool = True) -> Iterator[dict[str, str]]:
    """The RELAYGATE_* settings of a fresh database and (unless `redis` is False) Redis prefix, cleaned up on exit."""
    name = f"relaygate_bench_{uuid.uuid4().hex[:10]}"
    prefix = f"rgbench:{uuid.uuid4().hex[:10]}:"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        settings = {"RELAYGATE_DATABASE_URL": POSTGRES.rsplit("/", 1)[0] + "/" + name}
        if redis:
            settings |= {"RELAYGATE_REDIS_URL": REDIS, "RELAYGATE_REDIS_PREFIX": prefix}
        yield settings
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        client = redis_client.Redis.from_url(REDIS)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def read_usage(database_url: str, user_id: int) -> tuple[int, int]:
    """(usage records, sum of the user's charges) in the scale-out database."""

    async def query() -> tuple[int, int]:
        conn = await asyncpg.connect(database_url)
        try:
            records = await conn.fetchval("SELECT count(*) FROM usage_records")
            charged = await conn.fetchval(
                "SELECT coalesce(sum(quota), 0) FROM usage_records WHERE user_id = $1", user_id
            )
            return int(records), int(charged)
        finally:
            await conn.close()

    return asyncio.run(query())


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(POSTGRES)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()
