"""Reading usage records: which records (`UsageFilter`), filtered pages, and a stream for CSV export
(totals per bucket: `usage_summary`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, false, func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import ColumnElement

from relaygate.store.schema import usage_records

EXPORT_BATCH = 1000
COLUMNS = (
    "id",
    "created_at",
    "request_id",
    "user_id",
    "token_id",
    "channel_id",
    "endpoint",
    "model",
    "upstream_model",
    "prompt_tokens",
    "cached_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "completion_tokens",
    "quota",
    "overrun",
    "latency_ms",
    "status_code",
    "stream",
    "client_ip",
)


@dataclass(frozen=True)
class UsageFilter:
    """Which records: one user's (None: everyone's), optionally one token, channel and model, the answers'
    status (`ok`: below 400, `error`: 400 or more), a time range [start, end)."""

    user_id: int | None
    token_id: int | None = None
    model: str | None = None
    start: int | None = None
    end: int | None = None
    channel_id: int | None = None
    status: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """On `usage_records`."""
        found = self.owned(usage_records)
        if self.start is not None:
            found.append(usage_records.c.created_at >= self.start)
        if self.end is not None:
            found.append(usage_records.c.created_at < self.end)
        return found

    def owned(self, table: Table) -> list[ColumnElement[bool]]:
        """Whose and which model, on `usage_records` or `usage_rollups` (the time is the caller's)."""
        found: list[ColumnElement[bool]] = []
        if self.user_id is not None:
            found.append(table.c.user_id == self.user_id)
        if self.token_id is not None:
            found.append(table.c.token_id == self.token_id)
        if self.model:
            found.append(table.c.model == self.model)
        if self.channel_id is not None:
            found.append(table.c.channel_id == self.channel_id)
        if self.status is not None:
            # A rollup keeps a count of its errors, not their tokens or charges: it cannot be split, so a
            # status filter reads the records alone (`relaygate.billing.usage_summary`).
            found.append(_status_is(table, self.status) if table is usage_records else false())
        return found


def _status_is(table: Table, status: str) -> ColumnElement[bool]:
    return table.c.status_code >= 400 if status == "error" else table.c.status_code < 400


async def usage_page(
    engine: AsyncEngine, where: UsageFilter, page: int, per_page: int
) -> tuple[list[dict[str, Any]], int]:
    """Newest first."""
    conditions = where.conditions()
    async with engine.connect() as conn:
        total = (await conn.execute(select(func.count()).select_from(usage_records).where(*conditions))).scalar_one()
        query = (
            select(usage_records)
            .where(*conditions)
            .order_by(usage_records.c.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        rows = (await conn.execute(query)).mappings().all()
    return [_record(row) for row in rows], int(total)


async def usage_rows(engine: AsyncEngine, where: UsageFilter) -> AsyncIterator[dict[str, Any]]:
    """Every matching record, oldest first, read in batches so an export never holds them all."""
    after = 0
    while True:
        query = (
            select(usage_records)
            .where(*where.conditions(), usage_records.c.id > after)
            .order_by(usage_records.c.id)
            .limit(EXPORT_BATCH)
        )
        async with engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        for row in rows:
            yield _record(row)
        if len(rows) < EXPORT_BATCH:
            return
        after = rows[-1]["id"]


def _record(row: Any) -> dict[str, Any]:
    return {column: row[column] for column in COLUMNS} | {"stream": bool(row["stream"])}
