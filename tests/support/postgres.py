"""A throwaway PostgreSQL database per test, on the server every dev and CI machine runs.

Tests that need it run whenever it is reachable; with CI=true an unreachable server fails them.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
import pytest

SERVER = os.environ.get("RELAYGATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def require_postgres() -> None:
    try:
        asyncio.run(_ping())
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {SERVER} is unreachable and CI=true: {exc}")
        pytest.skip(f"PostgreSQL at {SERVER} is unreachable: {exc}")


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new empty database; yields its URL and drops it afterwards."""
    require_postgres()
    name = f"relaygate_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield SERVER.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _ping() -> None:
    conn = await asyncpg.connect(SERVER, timeout=3)
    await conn.close()


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(SERVER, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def database_of_limited_role(connection_limit: int) -> Iterator[str]:
    """A new database owned by a new role that may hold at most `connection_limit` connections
    (PostgreSQL's CONNECTION LIMIT); yields its URL, drops both afterwards."""
    require_postgres()
    name = f"relaygate_limited_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE ROLE "{name}" LOGIN CONNECTION LIMIT {int(connection_limit)}'))
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}" OWNER "{name}"'))
        try:
            server = SERVER.split("://", 1)[1].split("@", 1)[-1].rsplit("/", 1)[0]
            yield f"postgresql://{name}@{server}/{name}"
        finally:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        asyncio.run(_admin(f'DROP ROLE IF EXISTS "{name}"'))
