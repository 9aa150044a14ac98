"""`RELAYGATE_USAGE_RETENTION_DAYS`: usage records older than that are folded into their daily totals.

The rollups (`relaygate.usage.rollups`) already hold every record's day and all-time totals, so a
fold only forgets detail: it moves the fold point (`usage_folds.before`, a UTC midnight: before it,
usage is known per day) and then deletes the records and hourly rollups older than it, in batches that
keep each transaction short. The books count the rollups' quota as charges, so they balance before,
during and after. The fold runs at start and then once an hour on every instance (a second instance
finds nothing left to fold).
"""

from __future__ import annotations

import logging

from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from relaygate.clock import now
from relaygate.periodic import Periodic
from relaygate.store.schema import usage_folds, usage_records, usage_rollups
from relaygate.usage.rollups import HOUR

log = logging.getLogger(__name__)

DAY = 86400
BATCH = 5000
EVERY_SECONDS = 3600


def cutoff(retention_days: int, at: int) -> int:
    """Records created before this moment are folded: the UTC midnight `retention_days` days back."""
    moment = at - retention_days * DAY
    return moment - moment % DAY


async def folded_before(conn: AsyncConnection) -> int:
    """The fold point: usage before it is known per UTC day only (0: nothing was folded)."""
    return int((await conn.execute(select(func.coalesce(func.max(usage_folds.c.before), 0)))).scalar_one())


async def fold_old_usage(engine: AsyncEngine, retention_days: int) -> int:
    """Fold every record older than the retention period; returns how many records were folded."""
    before, folded = cutoff(retention_days, now()), 0
    async with engine.begin() as conn:
        # First the fold point, so readers take the days before it from the daily rollups while
        # their records and hours are being deleted.
        await _move_fold_point(conn, before)
        point = await folded_before(conn)
    while True:
        async with engine.begin() as conn:
            ids = (
                (
                    await conn.execute(
                        select(usage_records.c.id)
                        .where(usage_records.c.created_at < point)
                        .order_by(usage_records.c.id)
                        .limit(BATCH)
                    )
                )
                .scalars()
                .all()
            )
            if not ids:
                await conn.execute(
                    delete(usage_rollups).where(usage_rollups.c.span == HOUR, usage_rollups.c.bucket < point)
                )
                return folded
            await conn.execute(
                delete(usage_records).where(usage_records.c.created_at < point, usage_records.c.id <= ids[-1])
            )
        folded += len(ids)


async def _move_fold_point(conn: AsyncConnection, before: int) -> None:
    """Never back: a shorter retention period folds more, a longer one cannot bring records back."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(usage_folds).values(id=1, before=before)
    later = case(
        (statement.excluded.before > usage_folds.c.before, statement.excluded.before), else_=usage_folds.c.before
    )
    await conn.execute(statement.on_conflict_do_update(index_elements=["id"], set_={"before": later}))


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
