"""Quota reservations and charges: the `Ledger` interface and its embedded, single-process form.

The relay reserves an estimate before it calls an upstream, then settles to the real charge (or
to zero on failure). `MemoryLedger` keeps the counters in this process (one event loop, so each
check-and-reserve is atomic) and writes usage records with the balance and token deltas in one
transaction every `flush_interval`; the books in the database balance after every flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from relaygate.errors import InsufficientBalance, TokenQuotaExceeded
from relaygate.store.schema import tokens, usage_records, users

log = logging.getLogger(__name__)


@dataclass
class Reservation:
    token_id: int
    user_id: int
    amount: int
    open: bool = True


class Ledger(Protocol):
    """Where quota is reserved and charged. Implementations must keep the books balanced."""

    async def reserve(self, token_id: int, user_id: int, token_limit: int | None, amount: int) -> Reservation:
        """Hold `amount` units of the token's quota (None: unlimited) and the owner's balance, or raise 429."""

    async def settle(self, reservation: Reservation, charge: int, record: dict[str, Any]) -> None:
        """Replace the hold with the real `charge` and write the usage `record` (charge 0 refunds all)."""

    async def on_change(self, kind: str, ref_id: str) -> None:
        """A user's balance or a token's usage was changed outside the relay: reload it."""

    async def start(self) -> None: ...

    async def close(self) -> None:
        """Write everything still pending (a clean shutdown loses nothing)."""

    def pending_records(self) -> int:
        """Usage records not yet written to the database."""


class _Counter:
    """`stored` is the database value as of the last flush or load; the rest lives only here."""

    __slots__ = ("pending", "reserved", "stored")

    def __init__(self, stored: int):
        self.stored = stored
        self.pending = 0
        self.reserved = 0


class MemoryLedger:
    def __init__(self, engine: AsyncEngine, flush_interval: float):
        self._engine = engine
        self._flush_interval = flush_interval
        self._balances: dict[int, _Counter] = {}
        self._token_usage: dict[int, _Counter] = {}
        self._loading: dict[tuple[str, int], asyncio.Future[_Counter]] = {}
        self._records: list[dict[str, Any]] = []
        self._flush_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._writes: set[asyncio.Future[int]] = set()

    async def reserve(self, token_id: int, user_id: int, token_limit: int | None, amount: int) -> Reservation:
        balance = self._balances.get(user_id) or await self._load("user", user_id)
        usage = self._token_usage.get(token_id) or await self._load("token", token_id)
        # No await below this line: the check and the hold happen in one step of the event loop.
        if token_limit is not None:
            left = token_limit - usage.stored - usage.pending - usage.reserved
            if left < amount:
                raise TokenQuotaExceeded(
                    f"This API key has {max(left, 0)} quota units left and this request may cost up to "
                    f"{amount}: raise the key's quota, lower max_tokens, or use another key."
                )
        available = balance.stored - balance.pending - balance.reserved
        if available < amount:
            raise InsufficientBalance(
                f"The account balance ({max(available, 0)} quota units) is below this request's estimated "
                f"cost ({amount}): top up the account or lower max_tokens."
            )
        usage.reserved += amount
        balance.reserved += amount
        return Reservation(token_id, user_id, amount)

    async def settle(self, reservation: Reservation, charge: int, record: dict[str, Any]) -> None:
        if not reservation.open:
            raise RuntimeError("reservation settled twice")
        reservation.open = False
        balance = self._balances[reservation.user_id]
        usage = self._token_usage[reservation.token_id]
        balance.reserved -= reservation.amount
        usage.reserved -= reservation.amount
        balance.pending += charge
        usage.pending += charge
        self._records.append({**record, "quota": charge})

    async def on_change(self, kind: str, ref_id: str) -> None:
        counters = {"user": self._balances, "token": self._token_usage}.get(kind)
        if counters is None or int(ref_id) not in counters:
            return
        async with self._flush_lock:
            counters[int(ref_id)].stored = await self._read_stored(kind, int(ref_id))

    def pending_records(self) -> int:
        return len(self._records)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._flush_periodically(), name="ledger-flush")

    async def close(self) -> None:
        # Stop the periodic flush between batches, never in the middle of one, then write the rest.
        self._stopping.set()
        if self._task:
            await self._task
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        await self.flush()

    async def flush(self) -> int:
        """Write pending records and their balance deltas in one transaction; returns how many.

        The write is shielded: a flush cancelled while it waits on the database still finishes its
        batch (written, or put back for the next flush), so no record is ever dropped on the floor.
        """
        async with self._flush_lock:
            records, self._records = self._records, []
            if not records:
                return 0
            write = asyncio.ensure_future(self._write_batch(records))
            self._writes.add(write)
            write.add_done_callback(self._writes.discard)
            return await asyncio.shield(write)

    async def _write_batch(self, records: list[dict[str, Any]]) -> int:
        user_deltas, token_deltas = _deltas(records)
        try:
            async with self._engine.begin() as conn:
                await conn.execute(insert(usage_records), records)
                await conn.execute(_charge_users, user_deltas)
                await conn.execute(_charge_tokens, token_deltas)
        except (SQLAlchemyError, OSError):
            log.exception("writing %d usage records failed; kept for the next flush", len(records))
            self._records = records + self._records
            return 0
        for delta in user_deltas:
            counter = self._balances[delta["uid"]]
            counter.stored -= delta["quota"]
            counter.pending -= delta["quota"]
        for delta in token_deltas:
            counter = self._token_usage[delta["tid"]]
            counter.stored += delta["quota"]
            counter.pending -= delta["quota"]
        return len(records)

    async def _flush_periodically(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._flush_interval)
            await self.flush()

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
            counters[ref_id] = _Counter(await self._read_stored(kind, ref_id))
        return counters[ref_id]

    async def _read_stored(self, kind: str, ref_id: int) -> int:
        column = users.c.balance if kind == "user" else tokens.c.used_quota
        table = users if kind == "user" else tokens
        async with self._engine.connect() as conn:
            value = (await conn.execute(select(column).where(table.c.id == ref_id))).scalar()
        return int(value or 0)


_charge_users = (
    update(users)
    .where(users.c.id == bindparam("uid"))
    .values(
        balance=users.c.balance - bindparam("quota"),
        used_quota=users.c.used_quota + bindparam("quota"),
        request_count=users.c.request_count + bindparam("requests"),
    )
)
_charge_tokens = (
    update(tokens)
    .where(tokens.c.id == bindparam("tid"))
    .values(used_quota=tokens.c.used_quota + bindparam("quota"), last_used_at=bindparam("last_used"))
)


def _deltas(records: list[dict[str, Any]]) -> tuple[list[dict[str, int]], list[dict[str, int]]]:
    by_user: dict[int, dict[str, int]] = {}
    by_token: dict[int, dict[str, int]] = {}
    for record in records:
        user = by_user.setdefault(record["user_id"], {"uid": record["user_id"], "quota": 0, "requests": 0})
        user["quota"] += record["quota"]
        user["requests"] += 1
        token = by_token.setdefault(record["token_id"], {"tid": record["token_id"], "quota": 0, "last_used": 0})
        token["quota"] += record["quota"]
        token["last_used"] = max(token["last_used"], record["created_at"])
    return list(by_user.values()), list(by_token.values())
