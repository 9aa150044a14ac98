"""The ledger of several gateway processes on one database without Redis.

Each reservation is a conditional UPDATE (`balance - held >= amount`) plus a row in ledger_holds,
so every process sees the others' holds at once. Settlements are written in batches every
`flush_interval`: one transaction releases the batch's holds and writes its usage records with
their charges, so until then a settled request still counts with its (larger) estimate, never
less. Correct under any number of processes; slower than the in-memory or Redis ledgers (one
transaction per request at admission).

A crash cannot lock a balance: each process registers in ledger_processes and beats every
BEAT_SECONDS (on the database's clock) in the background, and each hold names its process. Every
beat also sweeps: the holds of processes silent for more than SILENCE_MS are released, in the
transaction that removes those processes, so a SIGKILLed process's holds come back within
SILENCE_MS + BEAT_SECONDS; `DELETE ... RETURNING` lets only one sweeper release each hold. A
process that was only silent (a stalled event loop, a lost database) finds its row gone at its
next beat and puts its holds back. Holds naming no process (taken by a version before
heartbeats) are released when they expire (HOLD_SECONDS), the last resort.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Row,
    and_,
    bindparam,
    delete,
    insert,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from relaygate.billing.ledger import Reservation, insufficient_balance, token_quota_exceeded
from relaygate.billing.usage_batch import RecordBatcher, Written
from relaygate.billing.usage_record import UsageRecord
from relaygate.clock import now
from relaygate.store.schema import ledger_holds, ledger_processes, tokens, users

log = logging.getLogger(__name__)

_HOLD_CALL = text("SELECT relaygate_hold(:p, :u, :t, :a, CAST(:l AS bigint), :e)")  # migration 0011
SILENCE_MS = 30_000  # a process not heard of for this long has died: the live ones release its holds
BEAT_SECONDS = 5.0  # each process beats, then sweeps, this often: far inside SILENCE_MS even when loaded
HOLD_SECONDS = 3600  # longer than any request: the expiry of a hold that names no process


class _Refused(Exception):
    pass


class DatabaseLedger:
    def __init__(self, engine: AsyncEngine, flush_interval: float):
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.batcher = RecordBatcher(engine, flush_interval, _nothing_cached, before_write=_release_holds)
        self.process_id = secrets.token_hex(16)
        # Reservations not yet settled, by hold id: what this process puts back if it was taken for dead.
        self._holding: dict[int, Reservation] = {}
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
        reservation = Reservation(token_id, user_id, amount, hold_id=hold_id)
        self._holding[hold_id] = reservation
        return reservation

    async def _hold_in_one_call(self, token_id: int, user_id: int, token_limit: int | None, amount: int) -> int:
        """PostgreSQL: relaygate_hold (migration 0011), its own transaction, row locks only while it runs."""
        async with self._autocommit.connect() as conn:
            hold_id = (
                await conn.execute(
                    _HOLD_CALL,
                    {
                        "p": self.process_id,
                        "u": user_id,
                        "t": token_id,
                        "a": amount,
                        "l": token_limit,
                        "e": now() + HOLD_SECONDS,
                    },
                )
            ).scalar_one()
        if hold_id < 0:
            raise _Refused
        return int(hold_id)

    async def settle(self, reservation: Reservation, record: UsageRecord) -> None:
        reservation.close(record)
        assert reservation.hold_id is not None
        del self._holding[reservation.hold_id]  # its hold stays in ledger_holds until its batch is written
        self.batcher.add(record, reservation)

    async def on_change(self, kind: str, ref_id: str) -> None:
        """Nothing cached: every reservation reads the database."""

    async def start(self) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(insert(ledger_processes).values(id=self.process_id, last_seen=_clock_ms(conn)))
        await self.batcher.start()
        self._task = asyncio.create_task(self._beat_periodically(), name="ledger-heartbeat")

    async def flush(self) -> int:
        return await self.batcher.flush()

    async def close(self) -> None:
        self._stopping.set()
        if self._task:
            await self._task
        await self.batcher.close()
        try:
            async with self._engine.begin() as conn:  # gone for good: nothing of ours may stay held
                await conn.execute(delete(ledger_processes).where(ledger_processes.c.id == self.process_id))
                await _release_holds_of(conn, [self.process_id])
        except (SQLAlchemyError, OSError):
            log.warning("deregistering this process failed: the others release its holds once it is silent")

    def pending_records(self) -> int:
        return len(self.batcher.entries)

    def open_holds(self) -> int:
        return len(self._holding)

    async def unready(self) -> str | None:
        return None  # every reservation goes to the database, which /readyz checks first

    async def beat(self) -> None:
        """Say this process is alive; if it was taken for dead meanwhile, register again and put its holds back."""
        async with self._engine.begin() as conn:
            seen = await conn.execute(
                update(ledger_processes)
                .where(ledger_processes.c.id == self.process_id)
                .values(last_seen=_clock_ms(conn))
            )
        if seen.rowcount != 1:
            await self._come_back()

    async def _come_back(self) -> None:
        # Under the batch lock: no batch releases (or charges) a hold while we look at which are gone.
        async with self.batcher.lock:
            mine = [*self._holding.values(), *(reservation for _, reservation in self.batcher.entries)]
            async with self._engine.begin() as conn:
                await conn.execute(insert(ledger_processes).values(id=self.process_id, last_seen=_clock_ms(conn)))
                kept = set(
                    (
                        await conn.execute(
                            select(ledger_holds.c.id).where(ledger_holds.c.id.in_([r.hold_id for r in mine]))
                        )
                    ).scalars()
                )
                released = [r for r in mine if r.hold_id not in kept]
                if released:
                    # The requests are already in flight: their holds come back whatever is left.
                    await conn.execute(
                        insert(ledger_holds),
                        [
                            {
                                "id": r.hold_id,
                                "user_id": r.user_id,
                                "token_id": r.token_id,
                                "amount": r.amount,
                                "expires_at": now() + HOLD_SECONDS,
                                "process_id": self.process_id,
                            }
                            for r in released
                        ],
                    )
                    await _add_held(conn, [(r.user_id, r.token_id, r.amount) for r in released])
        log.warning(
            "this ledger process was silent for over %d s and taken for dead: %d holds put back",
            SILENCE_MS // 1000,
            len(released),
        )

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
            .values(
                user_id=user_id,
                token_id=token_id,
                amount=amount,
                expires_at=now() + HOLD_SECONDS,
                process_id=self.process_id,
            )
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

    async def _beat_periodically(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), BEAT_SECONDS)
            if self._stopping.is_set():
                return
            try:
                await self.beat()
                await sweep_dead_processes(self._engine)
                await sweep_expired_holds(self._engine)
            except (SQLAlchemyError, OSError):
                log.warning("ledger heartbeat or sweep failed; will retry", exc_info=True)


async def _nothing_cached(written: Written) -> None:
    """The database is the only copy of the counters: nothing to update after a write."""


async def _release_holds(conn: AsyncConnection, reservations: list[Reservation]) -> None:
    """Release the holds of a batch of settled requests, in the transaction that charges them."""
    ids = [reservation.hold_id for reservation in reservations]
    # A hold already gone was released by a sweep: it must not be released twice.
    released = set(
        (
            await conn.execute(delete(ledger_holds).where(ledger_holds.c.id.in_(ids)).returning(ledger_holds.c.id))
        ).scalars()
    )
    await _add_held(conn, [(r.user_id, r.token_id, -r.amount) for r in reservations if r.hold_id in released])


async def sweep_dead_processes(engine: AsyncEngine) -> int:
    """Release the holds of processes silent for more than SILENCE_MS and forget them; returns how many holds.

    Each sweeper releases only the processes its own DELETE removed, and each hold only once its own
    DELETE removed it: sweepers running at once never release a hold twice.
    """
    async with engine.begin() as conn:
        dead = list(
            (
                await conn.execute(
                    delete(ledger_processes)
                    .where(ledger_processes.c.last_seen < _clock_ms(conn) - SILENCE_MS)
                    .returning(ledger_processes.c.id)
                )
            ).scalars()
        )
        released = await _release_holds_of(conn, dead) if dead else 0
    if dead:
        log.warning(
            "released %d holds of %d ledger processes silent for over %d s", released, len(dead), SILENCE_MS // 1000
        )
    return released


async def sweep_expired_holds(engine: AsyncEngine) -> int:
    """Release expired holds of no live process (the last resort: a hold that names none); returns how many.

    A live process's hold is never released, however long its request runs.
    """
    orphaned = or_(ledger_holds.c.process_id.is_(None), ledger_holds.c.process_id.not_in(select(ledger_processes.c.id)))
    async with engine.begin() as conn:
        rows = (await conn.execute(_delete_returning(and_(ledger_holds.c.expires_at < now(), orphaned)))).all()
        await _add_held(conn, [(r.user_id, r.token_id, -r.amount) for r in rows])
    if rows:
        log.warning("released %d expired holds of a process that stopped mid-request", len(rows))
    return len(rows)


async def _release_holds_of(conn: AsyncConnection, process_ids: Sequence[str]) -> int:
    rows: Sequence[Row[Any]] = (await conn.execute(_delete_returning(ledger_holds.c.process_id.in_(process_ids)))).all()
    await _add_held(conn, [(r.user_id, r.token_id, -r.amount) for r in rows])
    return len(rows)


def _delete_returning(condition: ColumnElement[bool]) -> Any:
    return (
        delete(ledger_holds)
        .where(condition)
        .returning(ledger_holds.c.user_id, ledger_holds.c.token_id, ledger_holds.c.amount)
    )


async def _add_held(conn: AsyncConnection, changes: Iterable[tuple[int, int, int]]) -> None:
    """Add (user id, token id, amount) to the held counters; a negative amount releases."""
    summed: dict[tuple[int, int], int] = {}
    for user_id, token_id, amount in changes:
        summed[user_id, token_id] = summed.get((user_id, token_id), 0) + amount
    if not summed:
        return
    rows = [{"uid": uid, "tid": tid, "amount": amount} for (uid, tid), amount in sorted(summed.items())]
    await conn.execute(
        update(users).where(users.c.id == bindparam("uid")).values(held=users.c.held + bindparam("amount")), rows
    )
    await conn.execute(
        update(tokens).where(tokens.c.id == bindparam("tid")).values(held=tokens.c.held + bindparam("amount")), rows
    )


def _clock_ms(conn: AsyncConnection) -> ColumnElement[int]:
    """Now in milliseconds on the database's clock: one clock for every host's heartbeats."""
    if conn.dialect.name == "postgresql":
        return literal_column("CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS bigint)", BigInteger)
    return literal_column("CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)", BigInteger)
