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

SERVER = os.environ.get("RELAYGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def require_redis() -> None:
    try:
        asyncio.run(_ping())
    except (OSError, RedisError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at {SERVER} is unreachable and CI=true: {exc}")
        pytest.skip(f"Redis at {SERVER} is unreachable: {exc}")


@contextmanager
def fresh_prefix() -> Iterator[str]:
    """A key prefix no other test uses; yields it and deletes its keys afterwards."""
    require_redis()
    prefix = f"rgtest:{uuid.uuid4().hex[:12]}:"
    try:
        yield prefix
    finally:
        asyncio.run(_delete(prefix))


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
