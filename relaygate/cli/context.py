"""What every CLI command shares: settings, a database connection, output as text or JSON."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import click
import orjson
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from relaygate.audit.service import Actor, record_action
from relaygate.billing.money import units_to_usd
from relaygate.errors import ConflictError, NotFoundError
from relaygate.settings import Settings, load_settings
from relaygate.store.database import create_engine
from relaygate.store.migrate import upgrade_to_head
from relaygate.store.redis import connect_redis

T = TypeVar("T")

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def settings() -> Settings:
    return load_settings()


@asynccontextmanager
async def transaction(config: Settings) -> AsyncIterator[AsyncConnection]:
    """One transaction on a migrated database; the engine is closed afterwards."""
    async with database(config) as engine, engine.begin() as conn:
        yield conn


@asynccontextmanager
async def database(config: Settings) -> AsyncIterator[AsyncEngine]:
    """The migrated database, for commands that commit several transactions; closed afterwards.
    With Redis, running servers hear of each committed change when this ends, else at their next poll."""
    engine = create_engine(config.sqlalchemy_url, config.pool)
    redis = connect_redis(config)
    publisher = None
    if redis is not None:
        from relaygate.store.change_bus import ChangePublisher

        publisher = ChangePublisher(engine, redis, config)
    try:
        await upgrade_to_head(engine)
        yield engine
    finally:
        if publisher is not None:
            await publisher.drain()  # running servers hear of this change now, not at their next poll
        if redis is not None:
            await redis.aclose()
        await engine.dispose()


def cli_actor() -> Actor:
    """The CLI acts as the local operator: audited as `cli:<OS user>` from `local`, with no user id."""
    try:
        who = getpass.getuser()
    except (OSError, KeyError):  # no login name for this uid (e.g. a container's bare uid)
        who = "unknown"
    return Actor(None, f"cli:{who}"[:64], "local")


async def audit(conn: AsyncConnection, action: str, target: str = "", **detail: Any) -> None:
    """Note a CLI change in the audit log, in its transaction, with the API's action names."""
    await record_action(conn, cli_actor(), action, target[:160], detail)


def run(work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """Run `work` in one transaction; domain errors become CLI errors with exit status 1."""

    async def main() -> T:
        async with transaction(settings()) as conn:
            return await work(conn)

    try:
        return asyncio.run(main())
    except ValidationError:
        raise  # a bad setting: `relaygate.cli.main` says which one
    except (ValueError, NotFoundError, ConflictError) as exc:
        raise click.ClickException(str(exc)) from exc


def emit(items: Sequence[dict[str, Any]], as_json: bool, columns: Sequence[str]) -> None:
    """A JSON array, or one aligned line per item with the given columns."""
    if as_json:
        click.echo(orjson.dumps(list(items), option=orjson.OPT_INDENT_2).decode())
        return
    if not items:
        click.echo("(none)")
        return
    rows = [[_cell(item.get(column)) for column in columns] for item in items]
    widths = [max(len(column), *(len(row[i]) for row in rows)) for i, column in enumerate(columns)]
    click.echo("  ".join(column.upper().ljust(width) for column, width in zip(columns, widths, strict=True)))
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def parse_time(text: str | None) -> int | None:
    """ISO-8601 to Unix seconds; a time without zone is taken as UTC."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not an ISO-8601 time such as 2026-12-31T23:59:00Z") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def iso_time(seconds: int | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def with_usd(units: int | None) -> str | None:
    """Quota units with their USD beside them, `500000 ($1.00)`, for the human tables; exact, never rounded."""
    if units is None:
        return None
    amount = units_to_usd(units)
    text = f"{abs(amount):,.2f}" if amount == amount.quantize(Decimal("0.01")) else f"{abs(amount).normalize():,f}"
    return f"{units} ({'-' if amount < 0 else ''}${text})"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "-"
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value)
