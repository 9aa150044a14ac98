"""The ledger of several gateway processes on one database without Redis.

Each reservation is a conditional UPDATE (`balance - held >= amount`) plus a row in ledger_holds,
so every process sees the others' holds at once. Settlements are written in batches every
`flush_interval`: one transaction releases the batch's holds and writes its usage records with
their charges, so until then a settled request still counts with its (larger) estimate, never
less. Correct under any number of processes; slower than the in-memory or Redis ledgers (one
transaction per request at admission). Holds of a process that died are released when they
expire (HOLD_SECONDS), so a crash cannot lock a balance for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from relaygate.billing.ledger import Reservation, insufficient_balance, token_quota_exceeded
from relaygate.billing.usage_batch import RecordBatcher, Written
from relaygate.billing.usage_record import UsageRecord
from relaygate.clock import now
from relaygate.store.schema import ledger_holds, tokens, users

log = logging.getLogger(__name__)

_HOLD_CALL = text("SELECT relaygate_hold(:u, :t, :a, CAST(:l AS bigint), :e)")
HOLD_SECONDS = 3600  # longer than any request; a hold older than this belonged to a process that died
SWEEP_SECONDS = 60.0


class _Refused(Exception):
    pass


class DatabaseLedger:
    def __init__(self, engine: AsyncEngine, flush_interval: float):
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.batcher = RecordBatcher(engine, flush_interval, _nothing_cached, before_write=_release_holds)
        self._open = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def reserve(self, token_id: int, user_id: int, token_limit: int | None, amount: int) -> Reservation:
        try:
            if self._postgres:
                hold_id = await self._hold_in_one_call(token_id, user_id, token_limit, amount)
            else:
                async with self._engine.begin() as conn:
                    hold_id = await self._hold(conn, token_id, user_id, token_limit, amount)
        except _Refused as refused:
            raise await self._refusal(token_id, user_id, token_limit, amount) from refused
        self._open += 1
        return Reservation(token_id, user_id, amount, hold_id=hold_id)

    async def _hold_in_one_call(self, token_id: int, user_id: int, token_limit: int | None, amount: int) -> int:
        """PostgreSQL: relaygate_hold (migration 0006), its own transaction, row locks only while it runs."""
        async with self._autocommit.connect() as conn:
            hold_id = (
                await conn.execute(
                    _HOLD_CALL,
                    {"u": user_id, "t": token_id, "a": amount, "l": token_limit, "e": now() + HOLD_SECONDS},
                )
            ).scalar_one()
        if hold_id < 0:
            raise _Refused
        return int(hold_id)

    async def settle(self, reservation: Reservation, record: UsageRecord) -> None:
        reservation.close(record)
        self._open -= 1
        self.batcher.add(record, reservation)

    async def on_change(self, kind: str, ref_id: str) -> None:
        """Nothing cached: every reservation reads the database."""

    async def start(self) -> None:
        await self.batcher.start()
        self._task = asyncio.create_task(self._sweep_periodically(), name="ledger-sweep")

    async def flush(self) -> int:
        return await self.batcher.flush()

    async def close(self) -> None:
        self._stopping.set()
        if self._task:
            await self._task
        await self.batcher.close()

    def pending_records(self) -> int:
        return len(self.batcher.entries)

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

    async def _sweep_periodically(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), SWEEP_SECONDS)
            try:
                await sweep_expired_holds(self._engine)
            except (SQLAlchemyError, OSError):
                log.warning("releasing expired holds failed; will retry", exc_info=True)


async def _nothing_cached(written: Written) -> None:
    """The database is the only copy of the counters: nothing to update after a write."""


async def _release_holds(conn: AsyncConnection, reservations: list[Reservation]) -> None:
    """Release the holds of a batch of settled requests, in the transaction that charges them."""
    ids = [reservation.hold_id for reservation in reservations]
    # A hold already gone expired and was released by the sweep: it must not be released twice.
    released = set(
        (
            await conn.execute(delete(ledger_holds).where(ledger_holds.c.id.in_(ids)).returning(ledger_holds.c.id))
        ).scalars()
    )
    amounts: dict[tuple[int, int], int] = {}
    for reservation in reservations:
        if reservation.hold_id in released:
            pair = (reservation.user_id, reservation.token_id)
            amounts[pair] = amounts.get(pair, 0) + reservation.amount
    if amounts:
        await _release(conn, [{"uid": uid, "tid": tid, "amount": amount} for (uid, tid), amount in amounts.items()])


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
