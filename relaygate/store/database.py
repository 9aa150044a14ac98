"""The async engine: SQLite (embedded default) or PostgreSQL, tuned for each."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


@dataclass(frozen=True)
class PoolSizing:
    """Connections one process may open to a server database, and how long a request waits for one.

    Every process of every instance has its own pool: instances x workers x (size + overflow), plus
    a few for the CLI, must stay under the server's `max_connections` (docs/security.md)."""

    size: int = 10
    overflow: int = 5
    timeout: float = 3.0  # then the request gets 503 service_unavailable with Retry-After


SQLITE_CONNECTIONS = 15


def create_engine(url: str, pool: PoolSizing | None = None) -> AsyncEngine:
    """An engine for `url` (already in its async-driver form, see `Settings.sqlalchemy_url`)."""
    if url.startswith("sqlite"):
        database = make_url(url).database
        _private_sqlite_files(database)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **_sqlite_pool(database))
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    pool = pool or PoolSizing()
    return create_async_engine(
        url, pool_size=pool.size, max_overflow=pool.overflow, pool_timeout=pool.timeout, pool_pre_ping=True
    )


def _sqlite_pool(database: str | None) -> dict[str, int]:
    """A file database keeps every connection it opened (as many as SQLAlchemy's default allows in all,
    15): closing the overflow at the end of each burst, as a server pool does, made the next burst open
    them again, each with a thread of its own and four PRAGMAs (a third of the CPU of a burst of first uses)."""
    if not database or database == ":memory:" or "mode=memory" in database:
        return {}  # an in-memory database: SQLAlchemy's StaticPool, one connection
    return {"pool_size": SQLITE_CONNECTIONS, "max_overflow": 0}


def single_reads(engine: AsyncEngine) -> AsyncEngine:
    """`engine` for reads of one statement each, as on a cache miss.

    On PostgreSQL in autocommit: a transaction around one SELECT costs a BEGIN and a ROLLBACK round
    trip and adds nothing, since one statement reads one snapshot. SQLite starts no transaction for a
    read, so its engine stays as it is.
    """
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the CLI write while the server reads; NORMAL sync is durable at every checkpoint.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _private_sqlite_files(database: str | None) -> None:
    """Create the database file owner-only before SQLite does (it would use the umask, often 0644);
    SQLite gives its -wal and -shm files the mode of the database file. Files of an older version
    are tightened too."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return  # SQLite will report the missing directory itself
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if name.exists() and name.stat().st_uid == os.getuid():
            name.chmod(0o600)
