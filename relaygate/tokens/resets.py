"""Periodic quota resets (SPEC section 2): a token with a reset period starts each day, week or month
with its usage counter at zero.

Periods begin at midnight in the operator's time zone (`RELAYGATE_TIMEZONE`): daily at every midnight,
weekly on Monday, monthly on the 1st. A reset moves the token's `used_quota` into `quota_cleared`, so
the books still see every charge; the owner's balance is never touched. Every gateway instance runs a
`QuotaResetter`; a reset is guarded by the token's previous `last_reset_at`, so however many instances
run at once, each token is reset exactly once per period.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from relaygate.audit.service import Actor, record_action
from relaygate.clock import now
from relaygate.periodic import Periodic
from relaygate.store.changes import record_change
from relaygate.store.schema import tokens
from relaygate.tokens.spec import RESET_PERIODS

log = logging.getLogger(__name__)

RESETTER = Actor(None, "quota-resetter", "")


def period_start(period: str, moment: int, zone: ZoneInfo) -> int:
    """The latest boundary of `period` at or before `moment` (Unix seconds)."""
    return _local_midnight(_first_day(period, datetime.fromtimestamp(moment, zone).date()), zone)


def next_boundary(period: str, moment: int, zone: ZoneInfo) -> int:
    """The first boundary of `period` after `moment` (Unix seconds)."""
    first = _first_day(period, datetime.fromtimestamp(moment, zone).date())
    if period == "daily":
        following = first + timedelta(days=1)
    elif period == "weekly":
        following = first + timedelta(days=7)
    else:
        following = (first + timedelta(days=31)).replace(day=1)
    return _local_midnight(following, zone)


def next_reset_at(token: dict[str, Any], zone: ZoneInfo) -> int | None:
    """When the token's usage is next cleared: the first boundary after its last reset (or creation).

    None without a reset period. A time in the past means the reset is due: it happens within a minute.
    """
    if token["reset"] is None:
        return None
    anchor = token["last_reset_at"] if token["last_reset_at"] is not None else token["created_at"]
    return next_boundary(token["reset"], anchor, zone)


async def reset_due_tokens(conn: AsyncConnection, moment: int, zone: ZoneInfo) -> list[int]:
    """Reset every live token whose period has turned since its last reset (or creation); returns their ids.

    Call inside a transaction: the resets, their change-feed notices and audit entries commit together.
    It is one set-based UPDATE whose condition is its own guard: a reset sets `last_reset_at` to the
    period's start, so the token no longer matches. A second instance's UPDATE waits on the row lock
    until the first commits and then re-checks the condition against the new row (PostgreSQL), or
    waits for the database's write lock (SQLite): either way the token is reset once. The UPDATE is
    the transaction's first statement so that SQLite takes the write lock before reading anything.
    """
    starts = {period: period_start(period, moment, zone) for period in RESET_PERIODS}
    anchor = func.coalesce(tokens.c.last_reset_at, tokens.c.created_at)
    due = or_(*(and_(tokens.c.reset_period == period, anchor < start) for period, start in starts.items()))
    period_begun = case(*((tokens.c.reset_period == period, start) for period, start in starts.items()))
    rows = (
        await conn.execute(
            update(tokens)
            .where(tokens.c.status != "deleted", due)
            .values(
                quota_cleared=tokens.c.quota_cleared + tokens.c.used_quota,
                used_quota=0,
                last_reset_at=period_begun,
                ledger_seq=tokens.c.ledger_seq + 1,
            )
            .returning(tokens.c.id, tokens.c.reset_period, tokens.c.last_reset_at, tokens.c.quota_cleared)
        )
    ).all()
    for row in sorted(rows):
        await record_change(conn, "token", row.id)
        detail = {"period": row.reset_period, "period_start": row.last_reset_at, "quota_cleared": row.quota_cleared}
        await record_action(conn, RESETTER, "token.reset", f"token:{row.id}", detail)
        log.info("token quota reset", extra={"token_id": row.id, **detail})
    return sorted(row.id for row in rows)


class QuotaResetter:
    """The background task that resets tokens at each boundary, and once at start to catch up on downtime.

    It sleeps until the next boundary of any period, but never longer than `max_sleep` seconds, so a
    changed clock, or a reset period newly set on an old token, is noticed soon.
    """

    def __init__(self, engine: AsyncEngine, zone: ZoneInfo, *, clock: Callable[[], int] = now, max_sleep: float = 60.0):
        self._engine = engine
        self._zone = zone
        self._clock = clock
        self._max_sleep = max_sleep
        self._loop = Periodic("quota reset", self.run_once, self.seconds_to_sleep, run_first=True)

    async def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def run_once(self) -> list[int]:
        """Reset every token that is due now; returns their ids."""
        async with self._engine.begin() as conn:
            return await reset_due_tokens(conn, self._clock(), self._zone)

    def seconds_to_sleep(self) -> float:
        moment = self._clock()
        upcoming = min(next_boundary(period, moment, self._zone) for period in RESET_PERIODS)
        return float(min(max(upcoming - moment, 1), self._max_sleep))


def _first_day(period: str, day: date) -> date:
    if period == "daily":
        return day
    if period == "weekly":
        return day - timedelta(days=day.weekday())
    if period == "monthly":
        return day.replace(day=1)
    raise ValueError(f"unknown reset period {period!r}")


def _local_midnight(day: date, zone: ZoneInfo) -> int:
    # fold=0: a midnight repeated by a clock change is its first occurrence; one skipped by a change
    # maps to the instant the clocks jumped, which is when that local day began.
    return int(datetime.combine(day, time(), tzinfo=zone).timestamp())
