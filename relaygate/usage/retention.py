"""`RELAYGATE_USAGE_RETENTION_DAYS`: usage records older than that are folded into daily totals.

A fold moves whole UTC days: every record created before the midnight that starts the oldest day
kept becomes part of one `usage_daily` row per day, user, token, channel, model and serving group (requests,
errors, tokens, quota, upstream overruns, total latency), and is deleted in the same transaction, so the books
(which count the folded quota as charges) balance before, during and after. Batches keep each
transaction short; the fold runs at start and then once an hour on every instance (a second
instance finds nothing left to fold).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Select, case, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import ColumnElement

from relaygate.clock import now
from relaygate.periodic import Periodic
from relaygate.store.schema import usage_daily, usage_records

log = logging.getLogger(__name__)

DAY = 86400
BATCH = 5000
EVERY_SECONDS = 3600


def cutoff(retention_days: int, at: int) -> int:
    """Records created before this moment are folded: the UTC midnight `retention_days` days back."""
    moment = at - retention_days * DAY
    return moment - moment % DAY


async def fold_old_usage(engine: AsyncEngine, retention_days: int) -> int:
    """Fold every record older than the retention period; returns how many records were folded."""
    before, folded = cutoff(retention_days, now()), 0
    while True:
        async with engine.begin() as conn:
            ids = (
                (
                    await conn.execute(
                        select(usage_records.c.id)
                        .where(usage_records.c.created_at < before)
                        .order_by(usage_records.c.id)
                        .limit(BATCH)
                    )
                )
                .scalars()
                .all()
            )
            if not ids:
                return folded
            batch = (usage_records.c.created_at < before, usage_records.c.id <= ids[-1])
            await conn.execute(insert(usage_daily).from_select(FOLDED_COLUMNS, _daily_totals(*batch)))
            await conn.execute(delete(usage_records).where(*batch))
        folded += len(ids)


FOLDED_COLUMNS = (
    "day",
    "user_id",
    "token_id",
    "channel_id",
    "model",
    "group",
    "requests",
    "errors",
    "prompt_tokens",
    "cached_tokens",
    "completion_tokens",
    "quota",
    "overrun",
    "overruns",
    "latency_ms_total",
)


def _daily_totals(*conditions: ColumnElement[bool]) -> Select[Any]:
    table = usage_records
    day = (table.c.created_at - table.c.created_at % DAY).label("day")
    keys = (table.c.user_id, table.c.token_id, table.c.channel_id, table.c.model, table.c.group)
    return (
        select(
            day,
            *keys,
            func.count(),
            func.sum(case((table.c.status_code >= 400, 1), else_=0)),
            func.sum(table.c.prompt_tokens),
            func.sum(table.c.cached_tokens),
            func.sum(table.c.completion_tokens),
            func.sum(table.c.quota),
            func.sum(table.c.overrun),
            func.sum(case((table.c.overrun > 0, 1), else_=0)),
            func.sum(table.c.latency_ms),
        )
        .where(*conditions)
        .group_by(day, *keys)
    )


class UsageRetention:
    """Folds old usage at start and then every hour (nothing when retention is 0: records are kept)."""

    def __init__(self, engine: AsyncEngine, retention_days: int):
        self._engine = engine
        self._days = retention_days
        self._loop = Periodic("folding old usage", self._fold, lambda: EVERY_SECONDS, run_first=True)

    async def start(self) -> None:
        if self._days > 0:
            self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _fold(self) -> None:
        folded = await fold_old_usage(self._engine, self._days)
        if folded:
            log.info("folded %d usage records older than %d days into daily totals", folded, self._days)
