"""Totals per bucket (analytics): read from the usage rollups, and the records of partial hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, Table, and_, case, func, literal, null, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import ColumnElement

from relaygate.billing.charge import Usage, charge_for
from relaygate.billing.prices import Price
from relaygate.billing.usage_queries import UsageFilter
from relaygate.store.schema import channels, tokens, usage_records, usage_rollups, users
from relaygate.usage.retention import folded_before
from relaygate.usage.rollups import ALL_TIME, DAY, EVERYONE, HOUR
from relaygate.usage.spans import Plan, Range, cut_hours, plan_range

QUARTER_HOUR = 900


async def usage_summary(
    engine: AsyncEngine, where: UsageFilter, by: str, zone: ZoneInfo | None = None
) -> list[dict[str, Any]]:
    """Totals per bucket of `by` (`day`: key `2026-01-31`, days of `zone`, UTC without; `model`, `user`,
    `token`, `channel`, `group`), read from the rollups (`relaygate.usage.spans` says which rows, and
    which partial hours come from the records).

    Each bucket: requests, errors (status >= 400), tokens, quota charged, mean latency, and the upstream
    `cost` and `margin` (quota minus cost) over the requests whose channel has a cost price for the model.
    """
    async with engine.connect() as conn:
        costs = {
            row.id: row.cost_prices
            for row in await conn.execute(select(channels.c.id, channels.c.cost_prices))
            if row.cost_prices
        }
        plan = await _plan(conn, where, by, zone)
        # Per channel and model only where some channel has cost prices: the cost is priced per pair.
        statements = _statements(plan, where, by, per_channel=bool(costs))
        rows = [row for statement in statements for row in (await conn.execute(statement)).all()]
    names: dict[Any, str] = {}
    parts: dict[tuple[str, Any, Any], list[int]] = {}
    for key, channel_id, model, *values in rows:
        name = names.get(key)
        if name is None:
            name = names[key] = _bucket_name(key, by, zone or UTC)
        sums = parts.setdefault((name, channel_id, model), [0] * len(SUMMED))
        for index, value in enumerate(values):
            sums[index] += int(value or 0)
    totals: dict[str, dict[str, Any]] = {}
    for (name, channel_id, model), summed in parts.items():
        part = dict(zip(SUMMED, summed, strict=True))
        total = totals.setdefault(name, _empty(name))
        for field in ("requests", "errors", "prompt_tokens", "cached_tokens", "completion_tokens", "quota"):
            total[field] += part[field]
        total["_latency"] += part["latency"]
        cost = _cost(costs.get(channel_id, {}).get(model), part)
        if cost is not None:
            total["cost"] = (total["cost"] or 0) + cost
            total["margin"] = (total["margin"] or 0) + part["quota"] - cost
    for total in totals.values():
        latency = total.pop("_latency")
        total["mean_latency_ms"] = round(latency / total["requests"], 1) if total["requests"] else 0.0
    return sorted(totals.values(), key=lambda total: total["key"])


# The summed columns of every statement, in their order after (key, channel_id, model).
SUMMED = ("prompt_tokens", "cached_tokens", "completion_tokens", "quota", "requests", "served", "errors", "latency")


def _empty(name: str) -> dict[str, Any]:
    counts = dict.fromkeys(("requests", "errors", "prompt_tokens", "cached_tokens", "completion_tokens", "quota"), 0)
    return {"key": name, **counts, "_latency": 0, "cost": None, "margin": None}


async def _plan(conn: AsyncConnection, where: UsageFilter, by: str, zone: ZoneInfo | None) -> Plan:
    """Days of UTC read whole days; days of another zone read hours, and the records of any hour a local
    midnight cuts (half past, a quarter to)."""
    utc_days = by != "day" or zone is None or zone.key in UTC_NAMES
    fold = await folded_before(conn)
    if where.status is not None:
        # Rollups count errors but do not split tokens and charges by status: read the records kept
        # since the fold (older ones are folded into days that cannot be split).
        return Plan(records=[(fold if where.start is None else max(where.start, fold), where.end)])
    plan = plan_range(where.start, where.end, fold, whole_days=utc_days, all_time=by != "day")
    if zone is None or utc_days or not plan.hours:
        return plan
    table = usage_rollups
    hours = table.c.user_id == EVERYONE, table.c.span == HOUR  # an index range: min and max are one step each
    first = await conn.scalar(select(func.min(table.c.bucket)).where(*hours))
    last = await conn.scalar(select(func.max(table.c.bucket)).where(*hours))
    if first is None or last is None:
        return plan
    lo = max(first if where.start is None else where.start, fold, first)
    hi = min(last + HOUR if where.end is None else where.end, last + HOUR)
    return cut_hours(plan, _local_midnights(zone, lo, hi))


UTC_NAMES = frozenset(
    {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu", "GMT", "Etc/GMT"}
)


def _local_midnights(zone: ZoneInfo, lo: int, hi: int) -> list[int]:
    day = datetime.fromtimestamp(lo, zone).date()
    found: list[int] = []
    while True:
        midnight = int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp())
        if midnight >= hi:
            return found
        found.append(midnight)
        day += timedelta(days=1)


def _statements(plan: Plan, where: UsageFilter, by: str, *, per_channel: bool) -> list[Select[Any]]:
    table = usage_rollups
    found: list[Select[Any]] = []
    if plan.all_time:
        found.append(_rolled_up(where, by, per_channel, table.c.span == ALL_TIME))
    # Hours and days over everyone per day, model or channel come from the site-wide rows (user 0);
    # anything else from the rows of each user.
    site = where.user_id is None and where.token_id is None and by in ("day", "model", "channel")
    whose = table.c.user_id == EVERYONE if site else table.c.user_id != EVERYONE
    for span, parts in ((DAY, plan.days), (HOUR, plan.hours)):
        if parts:
            within = or_(*(_within(table.c.bucket, part) for part in parts))
            found.append(_rolled_up(where, by, per_channel, table.c.span == span, whose, within))
    if plan.records:
        within = or_(*(_within(usage_records.c.created_at, part) for part in plan.records))
        found.append(_recorded(where, by, per_channel, within))
    return found


def _within(column: ColumnElement[Any], part: Range) -> ColumnElement[bool]:
    lo, hi = part
    bounds = [column >= lo] if lo is not None else []
    bounds += [column < hi] if hi is not None else []
    return and_(true(), *bounds)


def _recorded(where: UsageFilter, by: str, per_channel: bool, when: ColumnElement[bool]) -> Select[Any]:
    table = usage_records
    return _grouped(
        table,
        by,
        [*where.owned(table), when],
        channel_id=table.c.channel_id if per_channel else None,
        requests=func.count(),
        served=func.sum(case((table.c.status_code < 300, 1), else_=0)),
        errors=func.sum(case((table.c.status_code >= 400, 1), else_=0)),
        latency=func.sum(table.c.latency_ms),
    )


def _rolled_up(where: UsageFilter, by: str, per_channel: bool, *when: ColumnElement[bool]) -> Select[Any]:
    table = usage_rollups
    return _grouped(
        table,
        by,
        [*where.owned(table), *when],
        channel_id=func.nullif(table.c.channel_id, 0) if per_channel else None,
        requests=func.sum(table.c.requests),
        served=func.sum(table.c.served),
        errors=func.sum(table.c.errors),
        latency=func.sum(table.c.latency_ms_total),
    )


def _grouped(
    table: Table,
    by: str,
    conditions: list[ColumnElement[bool]],
    channel_id: ColumnElement[Any] | None,
    **counted: ColumnElement[Any],
) -> Select[Any]:
    """Sums per key, and per channel and model unless `channel_id` is None; columns in SUMMED's order."""
    sums = [
        func.sum(table.c[name]).label(name) for name in ("prompt_tokens", "cached_tokens", "completion_tokens", "quota")
    ]
    key = _key(table, by)
    pair: tuple[ColumnElement[Any], ...] = (null(), literal("")) if channel_id is None else (channel_id, table.c.model)
    query = select(
        key.label("key"),
        pair[0].label("channel_id"),
        pair[1].label("model"),
        *sums,
        *(value.label(name) for name, value in counted.items()),
    ).where(*conditions)
    if by == "group":
        query = query.select_from(
            table.outerjoin(tokens, tokens.c.id == table.c.token_id).outerjoin(users, users.c.id == table.c.user_id)
        )
    return query.group_by(key) if channel_id is None else query.group_by(key, channel_id, table.c.model)


def _key(table: Table, by: str) -> ColumnElement[Any]:
    rolled = table is usage_rollups
    if by == "day":  # hours or days, or the records' quarter hours, summed per local day afterwards
        return table.c.bucket if rolled else table.c.created_at - table.c.created_at % QUARTER_HOUR
    if by == "group":
        # The group that served the request; records from before it was recorded: the token's, else the owner's.
        return func.coalesce(func.nullif(table.c.group, ""), tokens.c.group, users.c.group)
    column = table.c[{"model": "model", "user": "user_id", "token": "token_id", "channel": "channel_id"}[by]]
    return func.nullif(column, 0) if rolled and by in ("token", "channel") else column


def _bucket_name(key: Any, by: str, zone: tzinfo) -> str:
    if by == "day":
        return _day(int(key), zone)
    return "" if key is None else str(key)


def _cost(rates: dict[str, str] | None, part: dict[str, int]) -> int | None:
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
        prompt=part["prompt_tokens"],
        cached=part["cached_tokens"],
        completion=part["completion_tokens"],
        calls=part["served"],
    )
    return charge_for(price, usage, Fraction(1))


def _usd(value: str | None) -> Fraction | None:
    return None if value is None else Fraction(Decimal(value))


def _day(seconds: int, zone: tzinfo) -> str:
    return datetime.fromtimestamp(seconds, zone).date().isoformat()
