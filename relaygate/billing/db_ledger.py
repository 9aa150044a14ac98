"""The ledger of several gateway processes on one database without Redis.

Each reservation is a conditional UPDATE (`balance - held >= amount`) plus a row in ledger_holds,
and each settlement writes its usage record with the charge in one transaction, so every process
sees the others' holds and charges at once. Correct under any number of processes; slower than
the in-memory or Redis ledgers (two transactions per request). Holds of a process that died are
released when they expire (HOLD_SECONDS), so a crash cannot lock a balance for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from relaygate.billing.ledger import Reservation, insufficient_balance, token_quota_exceeded
from relaygate.billing.usage_batch import write_usage
from relaygate.clock import now
from relaygate.store.schema import ledger_holds, tokens, users

log = logging.getLogger(__name__)

HOLD_SECONDS = 3600  # longer than any request; a hold older than this belonged to a process that died
SWEEP_SECONDS = 60.0


class _Refused(Exception):
    pass


class DatabaseLedger:
    def __init__(self, engine: AsyncEngine, retry_interval: float):
        self._engine = engine
        self._retry_interval = retry_interval
        self._unwritten: list[tuple[Reservation, dict[str, Any]]] = []
        self._open = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def reserve(self, token_id: int, user_id: int, token_limit: int | None, amount: int) -> Reservation:
        try:
            async with self._engine.begin() as conn:
                hold_id = await self._hold(conn, token_id, user_id, token_limit, amount)
        except _Refused as refused:
            raise await self._refusal(token_id, user_id, token_limit, amount) from refused
        self._open += 1
        return Reservation(token_id, user_id, amount, hold_id=hold_id)

    async def settle(self, reservation: Reservation, charge: int, record: dict[str, Any]) -> None:
        if not reservation.open:
            raise RuntimeError("reservation settled twice")
        reservation.open = False
        record = {**record, "quota": charge}
        try:
            await self._write(reservation, record)
        except (SQLAlchemyError, OSError):
            log.exception("writing a usage record failed; kept for a retry")
            self._unwritten.append((reservation, record))
        finally:
            self._open -= 1  # counted until written (or queued), so a flush after it sees the record

    async def on_change(self, kind: str, ref_id: str) -> None:
        """Nothing cached: every reservation reads the database."""

    async def start(self) -> None:
        self._task = asyncio.create_task(self._upkeep(), name="ledger-upkeep")

    async def flush(self) -> int:
        """Retry settlements whose write failed; returns how many were written."""
        written = 0
        pending, self._unwritten = self._unwritten, []
        for index, (reservation, record) in enumerate(pending):
            try:
                await self._write(reservation, record)
            except (SQLAlchemyError, OSError):
                self._unwritten.extend(pending[index:])
                break
            written += 1
        return written

    async def close(self) -> None:
        self._stopping.set()
        if self._task:
            await self._task
        await self.flush()

    def pending_records(self) -> int:
        return len(self._unwritten)

    def open_holds(self) -> int:
        return self._open

    async def _hold(
        self, conn: AsyncConnection, token_id: int, user_id: int, token_limit: int | None, amount: int
    ) -> int:
        # Users before tokens, as in every transaction here: one lock order, no deadlock.
        result = await conn.execute(
            update(users)
            .where(users.c.id == user_id, users.c.balance - users.c.held >= amount)
            .values(held=users.c.held + amount)
        )
        if result.rowcount != 1:
            raise _Refused
        query = update(tokens).where(tokens.c.id == token_id).values(held=tokens.c.held + amount)
        if token_limit is not None:
            query = query.where(token_limit - tokens.c.used_quota - tokens.c.held >= amount)
        if (await conn.execute(query)).rowcount != 1:
            raise _Refused
        inserted = await conn.execute(
            insert(ledger_holds)
            .values(user_id=user_id, token_id=token_id, amount=amount, expires_at=now() + HOLD_SECONDS)
            .returning(ledger_holds.c.id)
        )
        return int(inserted.scalar_one())

    async def _refusal(self, token_id: int, user_id: int, token_limit: int | None, amount: int) -> Exception:
        async with self._engine.connect() as conn:
            balance, held = (
                await conn.execute(select(users.c.balance, users.c.held).where(users.c.id == user_id))
            ).one()
            used, token_held = (
                await conn.execute(select(tokens.c.used_quota, tokens.c.held).where(tokens.c.id == token_id))
            ).one()
        if token_limit is not None and token_limit - used - token_held < amount:
            return token_quota_exceeded(token_limit - used - token_held, amount)
        return insufficient_balance(balance - held, amount)

    async def _write(self, reservation: Reservation, record: dict[str, Any]) -> None:
        async with self._engine.begin() as conn:
            released = await conn.execute(delete(ledger_holds).where(ledger_holds.c.id == reservation.hold_id))
            if released.rowcount == 1:  # else the hold expired and was released by the sweep already
                await _release(
                    conn, [{"uid": reservation.user_id, "tid": reservation.token_id, "amount": reservation.amount}]
                )
            await write_usage(conn, [record])

    async def _upkeep(self) -> None:
        waited = 0.0
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._retry_interval)
            waited += self._retry_interval
            try:
                if self._unwritten:
                    await self.flush()
                if waited >= SWEEP_SECONDS:
                    waited = 0.0
                    await sweep_expired_holds(self._engine)
            except (SQLAlchemyError, OSError):
                log.warning("ledger upkeep failed; will retry", exc_info=True)


async def sweep_expired_holds(engine: AsyncEngine) -> int:
    """Release the holds of processes that died mid-request; returns how many."""
    async with engine.begin() as conn:
        rows = (
            await conn.execute(
                delete(ledger_holds)
                .where(ledger_holds.c.expires_at < now())
                .returning(ledger_holds.c.user_id, ledger_holds.c.token_id, ledger_holds.c.amount)
            )
        ).all()
        if rows:
            await _release(conn, [{"uid": r.user_id, "tid": r.token_id, "amount": r.amount} for r in rows])
    if rows:
        log.warning("released %d expired holds of a process that stopped mid-request", len(rows))
    return len(rows)


async def _release(conn: AsyncConnection, holds: list[dict[str, int]]) -> None:
    holds = sorted(holds, key=lambda h: (h["uid"], h["tid"]))
    await conn.execute(
        update(users).where(users.c.id == bindparam("uid")).values(held=users.c.held - bindparam("amount")), holds
    )
    await conn.execute(
        update(tokens).where(tokens.c.id == bindparam("tid")).values(held=tokens.c.held - bindparam("amount")), holds
    )
