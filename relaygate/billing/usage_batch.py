"""Usage records settled in this process, written in batches with their balance and token deltas.

One transaction per batch: the records, their rollups (`relaygate.usage.rollups`), the owners'
balances and the tokens' used quota move together, so the books in the database balance after every write. A batch that fails to write is
kept for the next; a write is shielded, so a flush cancelled mid-write still finishes its batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from relaygate.billing.usage_record import COLUMNS, UsageRecord
from relaygate.store.schema import tokens, usage_records, users
from relaygate.usage.rollups import roll_up_usage

log = logging.getLogger(__name__)


@dataclass
class Written:
    """What one batch changed: charges per user and per token, and their ledger sequence numbers after it."""

    user_charges: dict[int, int]
    token_charges: dict[int, int]
    user_seqs: dict[int, int] = field(default_factory=dict)
    token_seqs: dict[int, int] = field(default_factory=dict)


# A batch is written early once this many records wait: every write's work on the event loop (the
# rows, the rollups, binding the statement's values) stalls the requests in flight for as long as it
# takes, so under load many small writes keep the tail short where one a second of thousands did not.
EARLY_FLUSH_RECORDS = 256

Entry = tuple[UsageRecord, Any]  # a usage record, and what its ledger writes with it (a hold to release)


class RecordBatcher:
    """`before_write(conn, extras)` runs in each batch's transaction, before the records are written."""

    def __init__(
        self,
        engine: AsyncEngine,
        interval: float,
        after_write: Callable[[Written], Awaitable[None]],
        *,
        read_seqs: bool = False,
        before_write: Callable[[AsyncConnection, list[Any]], Awaitable[None]] | None = None,
    ):
        self._engine = engine
        self.interval = interval
        self._after_write = after_write
        self._before_write = before_write
        self._read_seqs = read_seqs
        self.entries: list[Entry] = []
        self.lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._writes: set[asyncio.Future[int]] = set()
        self._early: asyncio.Future[int] | None = None
        self._failing = False  # the last write failed: only the periodic flush tries again

    @property
    def records(self) -> list[UsageRecord]:
        """The records not yet written (the same objects the batch will write)."""
        return [record for record, _ in self.entries]

    def add(self, record: UsageRecord, extra: Any = None) -> None:
        self.entries.append((record, extra))
        if (
            len(self.entries) >= EARLY_FLUSH_RECORDS
            and self._early is None
            and self._task is not None
            and not self._failing
        ):
            self._early = asyncio.ensure_future(self._flush_early())

    async def _flush_early(self) -> int:
        try:
            return await self.flush()
        finally:
            self._early = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._flush_periodically(), name="usage-flush")

    async def close(self) -> None:
        # Stop the periodic flush between batches, never in the middle of one, then write the rest.
        self._stopping.set()
        if self._task:
            await self._task
        if self._early is not None:
            await asyncio.gather(self._early, return_exceptions=True)
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        await self.flush()

    async def flush(self) -> int:
        """Write pending records; returns how many were written."""
        async with self.lock:
            entries, self.entries = self.entries, []
            if not entries:
                return 0
            write = asyncio.ensure_future(self._write(entries))
            self._writes.add(write)
            write.add_done_callback(self._writes.discard)
            return await asyncio.shield(write)

    async def _write(self, entries: list[Entry]) -> int:
        try:
            async with self._engine.begin() as conn:
                if self._before_write is not None:
                    await self._before_write(conn, [extra for _, extra in entries])
                written = await write_usage(conn, [record for record, _ in entries], read_seqs=self._read_seqs)
        except (SQLAlchemyError, OSError):
            log.exception("writing %d usage records failed; kept for the next flush", len(entries))
            self.entries = entries + self.entries
            self._failing = True
            return 0
        self._failing = False
        await self._after_write(written)
        return len(entries)

    async def _flush_periodically(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
            await self.flush()


async def write_usage(conn: AsyncConnection, records: list[UsageRecord], *, read_seqs: bool = False) -> Written:
    """Insert the records, add them to their rollups and apply their charges to balances and tokens
    (rows locked in id order, then the rollups in key order)."""
    user_deltas, token_deltas = _deltas(records)
    if conn.dialect.name == "sqlite":
        await _insert_in_chunks(conn, records)
    else:
        await conn.execute(insert(usage_records), [record.row() for record in records])
    await conn.execute(_charge_users, user_deltas)
    if token_deltas:  # records of no token (imported opening usage) charge only their account
        await conn.execute(_charge_tokens, token_deltas)
    await roll_up_usage(conn, records)
    written = Written(
        user_charges={d["uid"]: d["quota"] for d in user_deltas},
        token_charges={d["tid"]: d["quota"] for d in token_deltas},
    )
    if read_seqs:
        # Our updates hold these rows' locks until commit, so the numbers read here are our own.
        rows = await conn.execute(select(users.c.id, users.c.ledger_seq).where(users.c.id.in_(written.user_charges)))
        written.user_seqs = {row.id: row.ledger_seq for row in rows}
        rows = await conn.execute(
            select(tokens.c.id, tokens.c.ledger_seq).where(tokens.c.id.in_(written.token_charges))
        )
        written.token_seqs = {row.id: row.ledger_seq for row in rows}
    return written


SQLITE_ROWS_PER_INSERT = 1000  # x the ~20 columns of a record stays under SQLite's 32,766 bound parameters


async def _insert_in_chunks(conn: AsyncConnection, records: list[UsageRecord]) -> None:
    """SQLite: many rows per INSERT statement. An executemany steps once per row, and each step's
    return to Python waits for the GIL held by the busy event loop: 4,000 records took seconds
    under load (and piled up in memory) where a few multi-row statements take milliseconds."""
    names = ", ".join(f'"{usage_records.c[name].name}"' for name in COLUMNS)
    row = "(" + ", ".join("?" * len(COLUMNS)) + ")"
    start = 0
    for size in _chunk_sizes(len(records)):
        chunk = records[start : start + size]
        start += size
        values = tuple(itertools.chain.from_iterable(chunk))  # a record's values are in COLUMNS order
        sql = f"INSERT INTO usage_records ({names}) VALUES {', '.join([row] * size)}"  # noqa: S608 - names from the table
        await conn.exec_driver_sql(sql, values)


def _chunk_sizes(count: int) -> list[int]:
    """Full chunks, then the rest in powers of two: few distinct statements for SQLite's statement cache."""
    sizes = [SQLITE_ROWS_PER_INSERT] * (count // SQLITE_ROWS_PER_INSERT)
    rest = count % SQLITE_ROWS_PER_INSERT
    bit = 512
    while rest:
        if rest >= bit:
            sizes.append(bit)
            rest -= bit
        bit //= 2
    return sizes


_charge_users = (
    update(users)
    .where(users.c.id == bindparam("uid"))
    .values(
        balance=users.c.balance - bindparam("quota"),
        used_quota=users.c.used_quota + bindparam("quota"),
        request_count=users.c.request_count + bindparam("requests"),
        ledger_seq=users.c.ledger_seq + 1,
    )
)
_charge_tokens = (
    update(tokens)
    .where(tokens.c.id == bindparam("tid"))
    .values(
        used_quota=tokens.c.used_quota + bindparam("quota"),
        last_used_at=bindparam("last_used"),
        ledger_seq=tokens.c.ledger_seq + 1,
    )
)


def _deltas(records: list[UsageRecord]) -> tuple[list[dict[str, int]], list[dict[str, int]]]:
    by_user: dict[int, dict[str, int]] = {}
    by_token: dict[int, dict[str, int]] = {}
    for record in records:
        user = by_user.setdefault(record.user_id, {"uid": record.user_id, "quota": 0, "requests": 0})
        user["quota"] += record.quota
        user["requests"] += 1
        if record.token_id is None:
            continue
        token = by_token.setdefault(record.token_id, {"tid": record.token_id, "quota": 0, "last_used": 0})
        token["quota"] += record.quota
        token["last_used"] = max(token["last_used"], record.created_at)
    # Always the same lock order (by id), so concurrent batches of several processes cannot deadlock.
    return sorted(by_user.values(), key=lambda d: d["uid"]), sorted(by_token.values(), key=lambda d: d["tid"])
