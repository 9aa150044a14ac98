"""The Redis server every dev and CI machine runs, shared by tests through a key prefix each.

Tests that need it run whenever it is reachable; with CI=true an unreachable server fails them.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from relaygate.billing.redis_ledger import GENERATION_KEY

SERVER = os.environ.get("RELAYGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def require_redis() -> None:
    try:
        asyncio.run(_ping())
    except (OSError, RedisError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at {SERVER} is unreachable and CI=true: {exc}")
        pytest.skip(f"Redis at {SERVER} is unreachable: {exc}")


@contextmanager
def fresh_prefix(*, in_use: bool = False) -> Iterator[str]:
    """A key prefix no other test uses; yields it and deletes its keys afterwards.

    `in_use`: as a Redis in use leaves it, its ledger generation begun and warmed up already, so a gateway
    joins it as a deployment's next process does. Without it the first gateway on the prefix starts the
    generation and waits out the warm-up (redis_ledger.WARM_UP_MS, 2 s) before it is ready: what the
    tests of the ledger and of readiness see, and a wait for every other test of a gateway on Redis."""
    require_redis()
    prefix = f"rgtest:{uuid.uuid4().hex[:12]}:"
    try:
        if in_use:
            asyncio.run(_begin_generation(prefix))
        yield prefix
    finally:
        asyncio.run(_delete(prefix))


async def _begin_generation(prefix: str) -> None:
    client = aioredis.Redis.from_url(SERVER)
    try:
        # the ledger's generation key (ADOPT in redis_scripts.py), without its `:warm` key: warmed up
        await client.set(prefix + GENERATION_KEY, f"suite-{uuid.uuid4().hex[:8]}")
    finally:
        await client.aclose()


async def _ping() -> None:
    client = aioredis.Redis.from_url(SERVER, socket_connect_timeout=3)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def _delete(prefix: str) -> None:
    client = aioredis.Redis.from_url(SERVER)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
