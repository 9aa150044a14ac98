"""One import: read the source, then each kind in its own transaction, in dependency order.

A dry run does the same work in one transaction that it rolls back, so its report is exactly what
a real run would say, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from relaygate.audit.service import Actor, record_action
from relaygate.billing.money import UNITS_PER_USD
from relaygate.channels.crypto import SecretBox
from relaygate.errors import ConflictError, NotFoundError
from relaygate.importer.channels import import_channels
from relaygate.importer.context import ImportContext, Progress
from relaygate.importer.groups_prices import import_groups, import_prices
from relaygate.importer.logs import import_logs
from relaygate.importer.mapping import ImportMap
from relaygate.importer.redemptions import import_redemptions
from relaygate.importer.report import Report
from relaygate.importer.source import Dsn, SourceData, first_line, open_source, read_source
from relaygate.importer.tokens import import_tokens
from relaygate.importer.users import import_users

Step = Callable[[AsyncConnection, ImportContext], Awaitable[None]]
STEPS: tuple[tuple[str, Step], ...] = (
    ("groups", import_groups),  # before users, tokens and channels, which name groups
    ("prices", import_prices),
    ("users", import_users),
    ("tokens", import_tokens),  # after users: a token needs its owner
    ("channels", import_channels),
    ("redemptions", import_redemptions),
)


@dataclass(frozen=True)
class ImportOptions:
    dry_run: bool = False
    keep_root: bool = False
    with_logs: bool = False
    progress: bool = False


class ImportFailed(Exception):
    """A kind could not be imported: its transaction was rolled back; the kinds before it stay imported."""


async def run_import(engine: AsyncEngine, dsn: Dsn, source_kind: str, box: SecretBox, options: ImportOptions) -> Report:
    report = Report(source_kind, dsn.label, options.dry_run)
    async with open_source(dsn) as source_conn:
        data = await read_source(source_conn, source_kind, dsn.label)
        for table in data.missing:
            report.kind(table if table != "options" else "prices").notes.append(f"the source has no {table} table")
        unit = data.options().get("QuotaPerUnit", "").strip()
        if unit and _number(unit) != UNITS_PER_USD:
            report.kind("users").notes.append(
                f"their QuotaPerUnit is {unit}, not {UNITS_PER_USD:,}: amounts come over as the same numbers of "
                f"units, so a balance is worth {unit}/{UNITS_PER_USD:,} times as many US dollars here as there"
            )
        steps = list(STEPS)
        if options.with_logs:
            steps.append(("logs", lambda conn, ctx: import_logs(conn, ctx, source_conn)))
        if options.dry_run:
            async with engine.connect() as conn:
                await conn.begin()
                dry = await _context(conn, data, report, box, options)
                for _, step in steps:
                    await step(conn, dry)
                await conn.rollback()
            return report
        ctx: ImportContext | None = None
        done: list[str] = []
        for name, step in steps:
            try:
                async with engine.begin() as conn:
                    ctx = ctx or await _context(conn, data, report, box, options)
                    await step(conn, ctx)
                    await _audit(conn, ctx, name)
            except (SQLAlchemyError, ValueError, ConflictError, NotFoundError) as exc:
                # Each kind is all or nothing; say what is in and what is not, then let the error show.
                raise ImportFailed(
                    f"importing {name} failed, so none of them was written ({first_line(exc)}); "
                    f"imported before it: {', '.join(done) or 'nothing'}. Fix the cause and run the import "
                    "again: what is already imported is not imported twice."
                ) from exc
            done.append(name)
    return report


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


async def _context(
    conn: AsyncConnection, data: SourceData, report: Report, box: SecretBox, options: ImportOptions
) -> ImportContext:
    return ImportContext(
        source=data,
        map=await ImportMap.load(conn, data.label),
        report=report,
        progress=Progress(options.progress),
        box=box,
        keep_root=options.keep_root,
    )


async def _audit(conn: AsyncConnection, ctx: ImportContext, name: str) -> None:
    part = ctx.part(name)
    if part.imported:
        actor = Actor(None, f"relaygate import {ctx.kind}", "")
        detail = {"imported": part.imported, "skipped": len(part.skipped)}
        await record_action(conn, actor, f"import.{name}", ctx.source.label, detail)
