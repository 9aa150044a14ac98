"""Reading usage records: filtered pages, totals per bucket (analytics), and a stream for CSV export."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, Table, case, false, func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import ColumnElement

from relaygate.billing.charge import Usage, charge_for
from relaygate.billing.prices import Price
from relaygate.store.schema import channels, tokens, usage_daily, usage_records, users

QUARTER_HOUR = 900
DAY = 86400
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

    def conditions(self, table: Table = usage_records) -> list[ColumnElement[bool]]:
        """On `usage_records`, or on `usage_daily` (where a folded day counts when its UTC midnight is in range)."""
        moment = table.c.day if table is usage_daily else table.c.created_at
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
            # A folded day keeps only a count of its errors, not their tokens or charges: it cannot be split.
            found.append(false() if table is usage_daily else _status_is(table, self.status))
        if self.start is not None:
            found.append(moment >= self.start - self.start % DAY if table is usage_daily else moment >= self.start)
        if self.end is not None:
            found.append(moment < self.end)
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


async def usage_summary(
    engine: AsyncEngine, where: UsageFilter, by: str, zone: ZoneInfo | None = None
) -> list[dict[str, Any]]:
    """Totals per bucket of `by` (`day`: key `2026-01-31`, days of `zone`, UTC without; `model`, `user`,
    `token`, `channel`, `group`), over the records and the daily totals folded from older ones.

    Each bucket: requests, errors (status >= 400), tokens, quota charged, mean latency, and the upstream
    `cost` and `margin` (quota minus cost) over the requests whose channel has a cost price for the model.
    """
    async with engine.connect() as conn:
        rows = [*(await conn.execute(_record_totals(where, by))).all()]
        rows += (await conn.execute(_folded_totals(where, by))).all()
        costs = {
            row.id: row.cost_prices or {} for row in await conn.execute(select(channels.c.id, channels.c.cost_prices))
        }
    totals: dict[str, dict[str, Any]] = {}
    for row in rows:
        name = _bucket_name(row.key, by, zone or UTC)
        total = totals.setdefault(name, _empty(name))
        for field in ("requests", "errors", "prompt_tokens", "cached_tokens", "completion_tokens", "quota"):
            total[field] += int(getattr(row, field) or 0)
        total["_latency"] += int(row.latency or 0)
        cost = _cost(costs.get(row.channel_id, {}).get(row.model), row)
        if cost is not None:
            total["cost"] = (total["cost"] or 0) + cost
            total["margin"] = (total["margin"] or 0) + int(row.quota or 0) - cost
    for total in totals.values():
        latency = total.pop("_latency")
        total["mean_latency_ms"] = round(latency / total["requests"], 1) if total["requests"] else 0.0
    return sorted(totals.values(), key=lambda total: total["key"])


def _empty(name: str) -> dict[str, Any]:
    counts = dict.fromkeys(("requests", "errors", "prompt_tokens", "cached_tokens", "completion_tokens", "quota"), 0)
    return {"key": name, **counts, "_latency": 0, "cost": None, "margin": None}


def _record_totals(where: UsageFilter, by: str) -> Select[Any]:
    table = usage_records
    return _grouped(
        table,
        by,
        where.conditions(),
        requests=func.count(),
        errors=func.sum(case((table.c.status_code >= 400, 1), else_=0)),
        served=func.sum(case((table.c.status_code < 300, 1), else_=0)),
        latency=func.sum(table.c.latency_ms),
    )


def _folded_totals(where: UsageFilter, by: str) -> Select[Any]:
    table = usage_daily
    return _grouped(
        table,
        by,
        where.conditions(table),
        requests=func.sum(table.c.requests),
        errors=func.sum(table.c.errors),
        served=func.sum(table.c.requests - table.c.errors),
        latency=func.sum(table.c.latency_ms_total),
    )


def _grouped(
    table: Table, by: str, conditions: list[ColumnElement[bool]], **counted: ColumnElement[Any]
) -> Select[Any]:
    sums = [
        func.sum(table.c[name]).label(name) for name in ("prompt_tokens", "cached_tokens", "completion_tokens", "quota")
    ]
    key = _key(table, by)
    query = select(
        key.label("key"),
        table.c.channel_id,
        table.c.model,
        *sums,
        *(value.label(name) for name, value in counted.items()),
    ).where(*conditions)
    if by == "group":
        query = query.select_from(
            table.outerjoin(tokens, tokens.c.id == table.c.token_id).outerjoin(users, users.c.id == table.c.user_id)
        )
    return query.group_by(key, table.c.channel_id, table.c.model)


def _key(table: Table, by: str) -> ColumnElement[Any]:
    if by == "day":  # quarter hours, summed per local day afterwards (see usage_summary)
        return table.c.day if table is usage_daily else table.c.created_at - table.c.created_at % QUARTER_HOUR
    if by == "group":
        # The group that served the request; records from before it was recorded: the token's, else the owner's.
        return func.coalesce(func.nullif(table.c.group, ""), tokens.c.group, users.c.group)
    return table.c[{"model": "model", "user": "user_id", "token": "token_id", "channel": "channel_id"}[by]]


def _bucket_name(key: Any, by: str, zone: tzinfo) -> str:
    if by == "day":
        return _day(int(key), zone)
    return "" if key is None else str(key)


def _cost(rates: dict[str, str] | None, row: Any) -> int | None:
    """What the upstream charged for these requests, in quota units (None: no cost price)."""
    if not rates:
        return None
    price = Price(
        input=_usd(rates.get("input")) or Fraction(0),
        cached_input=_usd(rates.get("cached_input")),
        output=_usd(rates.get("output")) or Fraction(0),
        per_call=_usd(rates.get("per_call")),
    )
    usage = Usage(
        prompt=int(row.prompt_tokens or 0),
        cached=int(row.cached_tokens or 0),
        completion=int(row.completion_tokens or 0),
        calls=int(row.served or 0),
    )
    return charge_for(price, usage, Fraction(1))


def _usd(value: str | None) -> Fraction | None:
    return None if value is None else Fraction(Decimal(value))


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
