"""Quota reservations and charges: the `Ledger` interface and its embedded, single-process form.

The relay reserves an estimate before it calls an upstream, then settles to the real charge (or
to zero on failure). Three implementations keep the books balanced (relaygate.billing.ledgers picks one):
`MemoryLedger` (one process: counters here, records written in batches), `DatabaseLedger` (several
processes on one database, no Redis) and `RedisLedger` (several processes and hosts with Redis).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import bindparam, literal_column, select, union_all
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import String

from relaygate.billing.usage_batch import RecordBatcher, Written
from relaygate.billing.usage_record import UsageRecord
from relaygate.errors import InsufficientBalance, TokenQuotaExceeded
from relaygate.single_flight import SingleFlight
from relaygate.store.database import single_reads
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

    async def unready(self) -> str | None:
        """Why this process's ledger would refuse every reservation now (for /readyz), or None when it admits."""


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


Ref = tuple[str, int]  # ("user", id): a user's balance; ("token", id): a token's used quota
# Built once, as every statement of a cache miss here: building one and its cache key costs over 100 us a call.
_STORED = union_all(
    select(literal_column("'user'", String), users.c.id, users.c.balance, users.c.ledger_seq).where(
        users.c.id.in_(bindparam("user_ids", expanding=True))
    ),
    select(literal_column("'token'", String), tokens.c.id, tokens.c.used_quota, tokens.c.ledger_seq).where(
        tokens.c.id.in_(bindparam("token_ids", expanding=True))
    ),
)


async def read_stored(engine: AsyncEngine, refs: Collection[Ref]) -> dict[Ref, tuple[int, int]]:
    """Each counter's value in the database with its ledger sequence number ((0, 0): no such row).

    One statement for them all, so one snapshot (and one round trip) however many there are."""
    user_ids = [ref_id for kind, ref_id in refs if kind == "user"]
    token_ids = [ref_id for kind, ref_id in refs if kind != "user"]
    async with single_reads(engine).connect() as conn:
        rows = (await conn.execute(_STORED, {"user_ids": user_ids, "token_ids": token_ids})).all()
    found = {(str(row[0]), int(row[1])): (int(row[2]), int(row[3])) for row in rows}
    return {ref: found.get(ref, (0, 0)) for ref in refs}


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
        self._loads: SingleFlight[tuple[Ref, ...], None] = SingleFlight()
        self._changes = 0  # change notices so far: a load that raced with one reads again
        self.batcher = RecordBatcher(engine, flush_interval, self._written)
        self._open = 0

    async def reserve(self, token_id: int, user_id: int, token_limit: int | None, amount: int) -> Reservation:
        if user_id not in self._balances or token_id not in self._token_usage:
            await self._load(user_id, token_id)
        balance, usage = self._balances[user_id], self._token_usage[token_id]
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
        if counters is None:
            return
        self._changes += 1
        if int(ref_id) not in counters:
            return
        async with self.batcher.lock:
            ref = (kind, int(ref_id))
            counters[int(ref_id)].stored = (await read_stored(self._engine, [ref]))[ref][0]

    def pending_records(self) -> int:
        return len(self.batcher.entries)

    def open_holds(self) -> int:
        return self._open

    async def unready(self) -> str | None:
        return None

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

    def _missing(self, user_id: int, token_id: int) -> tuple[Ref, ...]:
        return tuple(
            ref
            for ref, counters in ((("user", user_id), self._balances), (("token", token_id), self._token_usage))
            if ref[1] not in counters
        )

    async def _load(self, user_id: int, token_id: int) -> None:
        """The counters a reservation needs, read once for every request that misses them at once."""
        missing = self._missing(user_id, token_id)
        await self._loads.run(missing, lambda: self._read_counters(user_id, token_id))

    async def _read_counters(self, user_id: int, token_id: int) -> None:
        # A change notice for a counter not yet here is not applied to it (on_change skips it): a read
        # that raced with one may predate the change, so it is read again.
        while missing := self._missing(user_id, token_id):
            changes = self._changes
            stored = await read_stored(self._engine, missing)
            if changes != self._changes:
                continue
            for (kind, ref_id), (value, _) in stored.items():
                counters = self._balances if kind == "user" else self._token_usage
                counters.setdefault(ref_id, _Counter(value))  # a load for another key may have been first
