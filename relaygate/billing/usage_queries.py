"""Reading usage records: filtered pages, totals per day or model, and a stream for CSV export."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import ColumnElement

from relaygate.store.schema import usage_records

QUARTER_HOUR = 900
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
    """Which records: one user's (None: everyone's), optionally one token, one model, a time range [start, end)."""

    user_id: int | None
    token_id: int | None = None
    model: str | None = None
    start: int | None = None
    end: int | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.user_id is not None:
            found.append(usage_records.c.user_id == self.user_id)
        if self.token_id is not None:
            found.append(usage_records.c.token_id == self.token_id)
        if self.model:
            found.append(usage_records.c.model == self.model)
        if self.start is not None:
            found.append(usage_records.c.created_at >= self.start)
        if self.end is not None:
            found.append(usage_records.c.created_at < self.end)
        return found


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


async def usage_summary(
    engine: AsyncEngine, where: UsageFilter, by: str, zone: ZoneInfo | None = None
) -> list[dict[str, Any]]:
    """Totals per day (`by="day"`, key `2026-01-31`, days of `zone`, UTC without) or per model (`by="model"`)."""
    # Days: summed per quarter hour in the database, then per local day here (every zone's offset from
    # UTC is a whole number of quarter hours, so no quarter hour straddles a local midnight).
    key = (
        (usage_records.c.created_at - usage_records.c.created_at % QUARTER_HOUR)
        if by == "day"
        else usage_records.c.model
    ).label("key")
    query = (
        select(
            key,
            func.count().label("requests"),
            func.sum(usage_records.c.prompt_tokens).label("prompt_tokens"),
            func.sum(usage_records.c.completion_tokens).label("completion_tokens"),
            func.sum(usage_records.c.quota).label("quota"),
        )
        .where(*where.conditions())
        .group_by(key)
        .order_by(key)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    totals: dict[str, dict[str, Any]] = {}
    for row in rows:
        name = _day(int(row.key), zone or UTC) if by == "day" else row.key
        total = totals.setdefault(
            name, {"key": name, "requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "quota": 0}
        )
        total["requests"] += int(row.requests)
        total["prompt_tokens"] += int(row.prompt_tokens or 0)
        total["completion_tokens"] += int(row.completion_tokens or 0)
        total["quota"] += int(row.quota or 0)
    return list(totals.values())


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


def _day(seconds: int, zone: tzinfo) -> str:
    return datetime.fromtimestamp(seconds, zone).date().isoformat()
