"""A throwaway PostgreSQL database per test, on the server every dev and CI machine runs.

Tests that need it run whenever it is reachable; with CI=true an unreachable server fails them.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
import pytest

from relaygate.settings import to_async_url
from relaygate.store.database import create_engine
from relaygate.store.migrate import upgrade_to_head

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
        yield _url_of(name)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def migrated_database() -> Iterator[str]:
    """A new database at the newest schema, as a fresh `relaygate migrate` leaves it; dropped afterwards.
    It is copied from this process's migrated template (CREATE DATABASE ... TEMPLATE), which takes a
    second less than running every migration again."""
    require_postgres()
    template = _migrated_template()
    name = f"relaygate_test_{uuid.uuid4().hex[:12]}"
    _create_from(template, name)
    try:
        yield _url_of(name)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_template: list[str] = []  # this test process's migrated template database, made on first use


def _migrated_template() -> str:
    if not _template:
        name = f"relaygate_template_{uuid.uuid4().hex[:12]}"
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        atexit.register(lambda: asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))
        asyncio.run(_migrate(_url_of(name)))
        _template.append(name)
    return _template[0]


async def _migrate(url: str) -> None:
    engine = create_engine(to_async_url(url))
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()


def _create_from(template: str, name: str) -> None:
    # PostgreSQL copies a template only while nobody is connected to it: the connection that migrated
    # it may take a moment to end on the server side.
    for attempt in range(50):
        try:
            asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            return
        except asyncpg.ObjectInUseError:
            if attempt == 49:
                raise
            time.sleep(0.1)


def _url_of(name: str) -> str:
    return SERVER.rsplit("/", 1)[0] + "/" + name


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
