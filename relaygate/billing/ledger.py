"""Quota reservations and charges: the `Ledger` interface and its embedded, single-process form.

The relay reserves an estimate before it calls an upstream, then settles to the real charge (or
to zero on failure). Three implementations keep the books balanced (relaygate.billing.ledgers picks one):
`MemoryLedger` (one process: counters here, records written in batches), `DatabaseLedger` (several
processes on one database, no Redis) and `RedisLedger` (several processes and hosts with Redis).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from relaygate.billing.usage_batch import RecordBatcher, Written
from relaygate.billing.usage_record import UsageRecord
from relaygate.errors import InsufficientBalance, TokenQuotaExceeded
from relaygate.store.schema import tokens, users


@dataclass(slots=True)
class Reservation:
    token_id: int
    user_id: int
    amount: int
    open: bool = True
    hold_id: int | None = None  # the database ledger's row in ledger_holds

    def close(self, record: UsageRecord) -> None:
        """Every ledger's settle starts here: once per hold, and never a charge above it."""
        if not self.open:
            raise RuntimeError("reservation settled twice")
        if not 0 <= record.quota <= self.amount:
            raise RuntimeError(f"a charge of {record.quota} against a hold of {self.amount}")
        self.open = False


class Ledger(Protocol):
    """Where quota is reserved and charged. Implementations must keep the books balanced."""

    async def reserve(self, token_id: int, user_id: int, token_limit: int | None, amount: int) -> Reservation:
        """Hold `amount` units of the token's quota (None: unlimited) and the owner's balance, or raise 429."""

    async def settle(self, reservation: Reservation, record: UsageRecord) -> None:
        """Replace the hold with the record's charge (`quota`, at most the hold; 0 refunds all) and write it."""

    async def on_change(self, kind: str, ref_id: str) -> None:
        """A user's balance or a token's usage was changed outside the relay: reload it."""

    async def start(self) -> None: ...

    async def flush(self) -> int:
        """Write the usage records still pending now; returns how many."""

    async def close(self) -> None:
        """Write everything still pending (a clean shutdown loses nothing)."""

    def pending_records(self) -> int:
        """Usage records not yet written to the database."""

    def open_holds(self) -> int:
        """Reservations of this process not yet settled."""


def token_quota_exceeded(left: int, amount: int) -> TokenQuotaExceeded:
    error = TokenQuotaExceeded(
        f"This API key has {max(left, 0)} quota units left and this request may cost up to "
        f"{amount}: raise the key's quota, lower max_tokens, or use another key."
    )
    error.available = max(left, 0)
    return error


def insufficient_balance(available: int, amount: int) -> InsufficientBalance:
    error = InsufficientBalance(
        f"The account balance ({max(available, 0)} quota units) is below what this request may cost "
        f"({amount}): top up the account or lower max_tokens."
    )
    error.available = max(available, 0)
    return error


async def read_stored(engine: AsyncEngine, kind: str, ref_id: int) -> tuple[int, int]:
    """A user's balance or a token's used quota in the database, with its ledger sequence number."""
    table = users if kind == "user" else tokens
    column = users.c.balance if kind == "user" else tokens.c.used_quota
    async with engine.connect() as conn:
        row = (await conn.execute(select(column, table.c.ledger_seq).where(table.c.id == ref_id))).first()
    return (int(row[0]), int(row[1])) if row else (0, 0)


class _Counter:
    """`stored` is the database value as of the last flush or load; the rest lives only here."""

    __slots__ = ("pending", "reserved", "stored")

    def __init__(self, stored: int):
        self.stored = stored
        self.pending = 0
        self.reserved = 0


class MemoryLedger:
    """Correct for one process per database: the embedded default (SQLite, one worker)."""

    def __init__(self, engine: AsyncEngine, flush_interval: float):
        self._engine = engine
        self._balances: dict[int, _Counter] = {}
        self._token_usage: dict[int, _Counter] = {}
        self._loading: dict[tuple[str, int], asyncio.Future[_Counter]] = {}
        self.batcher = RecordBatcher(engine, flush_interval, self._written)
        self._open = 0

    async def reserve(self, token_id: int, user_id: int, token_limit: int | None, amount: int) -> Reservation:
        balance = self._balances.get(user_id) or await self._load("user", user_id)
        usage = self._token_usage.get(token_id) or await self._load("token", token_id)
        # No await below this line: the check and the hold happen in one step of the event loop.
        if token_limit is not None:
            left = token_limit - usage.stored - usage.pending - usage.reserved
            if left < amount:
                raise token_quota_exceeded(left, amount)
        available = balance.stored - balance.pending - balance.reserved
        if available < amount:
            raise insufficient_balance(available, amount)
        usage.reserved += amount
        balance.reserved += amount
        self._open += 1
        return Reservation(token_id, user_id, amount)

    async def settle(self, reservation: Reservation, record: UsageRecord) -> None:
        reservation.close(record)
        self._open -= 1
        balance = self._balances[reservation.user_id]
        usage = self._token_usage[reservation.token_id]
        balance.reserved -= reservation.amount
        usage.reserved -= reservation.amount
        balance.pending += record.quota
        usage.pending += record.quota
        self.batcher.add(record)

    async def on_change(self, kind: str, ref_id: str) -> None:
        counters = {"user": self._balances, "token": self._token_usage}.get(kind)
        if counters is None or int(ref_id) not in counters:
            return
        async with self.batcher.lock:
            counters[int(ref_id)].stored = (await read_stored(self._engine, kind, int(ref_id)))[0]

    def pending_records(self) -> int:
        return len(self.batcher.entries)

    def open_holds(self) -> int:
        return self._open

    async def start(self) -> None:
        await self.batcher.start()

    async def close(self) -> None:
        await self.batcher.close()

    async def flush(self) -> int:
        return await self.batcher.flush()

    async def _written(self, written: Written) -> None:
        for user_id, charge in written.user_charges.items():
            counter = self._balances[user_id]
            counter.stored -= charge
            counter.pending -= charge
        for token_id, charge in written.token_charges.items():
            counter = self._token_usage[token_id]
            counter.stored += charge
            counter.pending -= charge

    async def _load(self, kind: str, ref_id: int) -> _Counter:
        key = (kind, ref_id)
        if key not in self._loading:
            self._loading[key] = asyncio.ensure_future(self._read_counter(kind, ref_id))
        try:
            return await asyncio.shield(self._loading[key])
        finally:
            self._loading.pop(key, None)

    async def _read_counter(self, kind: str, ref_id: int) -> _Counter:
        counters = self._balances if kind == "user" else self._token_usage
        if ref_id not in counters:
            counters[ref_id] = _Counter((await read_stored(self._engine, kind, ref_id))[0])
        return counters[ref_id]
