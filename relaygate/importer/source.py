"""The source database: its DSN, opened read-only, and its rows as plain dicts.

The tables and columns are those of the GORM models in new-api's and one-api's `model/*.go`
(`users`, `tokens`, `channels`, `options`, `redemptions`, `logs`); columns one of them lacks are
simply absent from the rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Select, column, inspect, literal_column, select, table
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

SOURCE_KINDS = ("new-api", "one-api")
REQUIRED_TABLES = ("users", "tokens")
OPTIONAL_TABLES = ("channels", "options", "redemptions")


class SourceError(ValueError):
    """The source cannot be read: a bad DSN, an unreachable server, or not their schema."""


@dataclass(frozen=True)
class Dsn:
    url: URL  # what SQLAlchemy connects with
    label: str  # how the import map and the report name the source: never the password

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()


def parse_dsn(text: str) -> Dsn:
    """`mysql://user:pass@host:3306/db`, `postgresql://...` or `sqlite:///path/one-api.db`."""
    try:
        url = make_url(text)
    except ArgumentError:
        raise SourceError(
            "give a database URL such as mysql://user:pass@host:3306/new-api, "
            "postgresql://user:pass@host/db or sqlite:///path/one-api.db"
        ) from None
    scheme = url.drivername.split("+")[0]
    if scheme == "sqlite":
        if not url.database:
            raise SourceError("a sqlite DSN needs a file: sqlite:///path/to/one-api.db")
        path = Path(url.database).resolve()
        if not path.is_file():
            raise SourceError(f"there is no database file at {path}")
        # mode=ro: SQLite itself refuses every write, so the source cannot be changed by mistake.
        sqlite_url = URL.create("sqlite+aiosqlite", database=f"file:{path}", query={"mode": "ro", "uri": "true"})
        return Dsn(sqlite_url, f"sqlite://{path}")
    if scheme in ("mysql", "mariadb"):
        driver = "mysql+aiomysql"
        query = {"charset": "utf8mb4"}
    elif scheme in ("postgresql", "postgres"):
        driver = "postgresql+asyncpg"
        query = {}
    else:
        raise SourceError(f"the DSN must start with mysql://, postgresql:// or sqlite:///, not {scheme}://")
    if not url.database:
        raise SourceError(f"the DSN must name the database, e.g. {scheme}://user:pass@host/new-api")
    real = url.set(drivername=driver, query={**url.query, **query})
    return Dsn(real, f"{scheme}://{url.host or 'localhost'}:{url.port or ''}/{url.database}")


@dataclass
class SourceData:
    kind: str  # new-api or one-api
    label: str
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # optional tables the source does not have

    def rows(self, name: str) -> list[dict[str, Any]]:
        return self.tables.get(name, [])

    def options(self) -> dict[str, str]:
        return {str(row["key"]): str(row["value"] or "") for row in self.rows("options")}


@asynccontextmanager
async def open_source(dsn: Dsn) -> AsyncIterator[AsyncConnection]:
    """One read-only transaction on the source (a consistent snapshot where the server offers one)."""
    connect_args: dict[str, Any] = {}
    options: dict[str, Any] = {}
    if dsn.dialect == "postgresql":
        connect_args["server_settings"] = {"default_transaction_read_only": "on"}
    if dsn.dialect in ("postgresql", "mysql"):
        options["isolation_level"] = "REPEATABLE READ"  # every table read from one snapshot
    engine: AsyncEngine = create_async_engine(dsn.url, connect_args=connect_args, **options)
    try:
        with _reading(dsn.label):
            conn = await engine.connect()
        try:
            with _reading(dsn.label):
                if dsn.dialect == "mysql":  # for the transactions that follow, begun below
                    await conn.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
                    await conn.commit()
                await conn.begin()
            yield conn
        finally:
            await conn.close()  # rolls the read-only transaction back
    finally:
        await engine.dispose()


@contextmanager
def _reading(label: str) -> Iterator[None]:
    """Errors of the source's driver as one SourceError that says which database failed."""
    try:
        yield
    except (DBAPIError, OSError) as exc:
        raise SourceError(f"cannot read the source database {label}: {first_line(exc)}") from None


async def read_source(conn: AsyncConnection, kind: str, label: str) -> SourceData:
    data = SourceData(kind=kind, label=label)
    with _reading(label):
        present = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        for name in (*REQUIRED_TABLES, *OPTIONAL_TABLES):
            if name not in present:
                if name in REQUIRED_TABLES:
                    raise SourceError(f"{label} has no table {name!r}: is it the database {kind} runs on?")
                data.missing.append(name)
                continue
            rows = (await conn.execute(select(literal_column("*")).select_from(table(name)))).mappings().all()
            data.tables[name] = [dict(row) for row in rows]
    return data


async def read_logs(conn: AsyncConnection, after_id: int, chunk: int = 5000) -> AsyncIterator[list[dict[str, Any]]]:
    """Consume logs (type 2 in both) with an id above `after_id`, in id order, a chunk at a time."""
    logs = table("logs", column("id"), column("type"))
    while True:
        query: Select[Any] = (
            select(literal_column("*"))
            .select_from(logs)
            .where(logs.c.type == 2, logs.c.id > after_id)
            .order_by(logs.c.id)
            .limit(chunk)
        )
        with _reading("the logs table"):
            rows = [dict(row) for row in (await conn.execute(query)).mappings().all()]
        if not rows:
            return
        yield rows
        after_id = int(rows[-1]["id"])


def first_line(exc: BaseException) -> str:
    """A driver error's own message, without the statement and parameters SQLAlchemy adds."""
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0] if text else type(exc).__name__
