"""Writing a batch of usage records on SQLite: many rows per statement, every row written once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from relaygate.billing.usage_batch import EARLY_FLUSH_RECORDS, RecordBatcher, Written, _chunk_sizes, write_usage
from relaygate.store.database import create_engine
from relaygate.store.migrate import upgrade_to_head
from relaygate.store.schema import usage_records
from relaygate.tokens.service import create_tokens
from relaygate.tokens.spec import TokenSpec
from relaygate.users.service import NewUser, create_user
from tests.billing.test_ledger import books_of, record


def test_chunks_cover_every_row_with_few_distinct_sizes() -> None:
    for count in (0, 1, 7, 999, 1000, 1001, 2555):
        assert sum(_chunk_sizes(count)) == count
    assert _chunk_sizes(2555) == [1000, 1000, 512, 32, 8, 2, 1]


def test_a_large_mixed_batch_is_written_whole(tmp_path: Path) -> None:
    async def main() -> tuple[int, int, tuple[int, int, bool]]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
        await upgrade_to_head(engine)
        async with engine.begin() as conn:
            user = await create_user(conn, NewUser(name="a", password="password-123", balance=100_000))
            [token] = await create_tokens(conn, user["id"], TokenSpec(unlimited=True))
        full = [record(user["id"], token["id"], 3) for _ in range(2555)]
        other = [record(user["id"], None, 3, endpoint="embeddings") for _ in range(10)]  # a record with no token
        async with engine.begin() as conn:
            await write_usage(conn, full + other)
        async with engine.connect() as conn:
            rows = (await conn.execute(select(func.count(), func.sum(usage_records.c.quota)))).one()
        books = await books_of(engine, user["id"], token["id"])
        await engine.dispose()
        return int(rows[0]), int(rows[1]), books

    assert asyncio.run(main()) == (2565, 3 * 2565, (100_000 - 3 * 2565, 3 * 2555, True))


def test_a_batch_is_written_early_once_enough_records_wait(tmp_path: Path) -> None:
    """Under load the writer does not wait for its interval: many small writes, each a short stall."""

    async def main() -> tuple[int, int, int]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
        await upgrade_to_head(engine)
        async with engine.begin() as conn:
            user = await create_user(conn, NewUser(name="a", password="password-123", balance=100_000))
            [token] = await create_tokens(conn, user["id"], TokenSpec(unlimited=True))
        batcher = RecordBatcher(engine, 3600, _written_nothing)  # the interval never comes in this test
        await batcher.start()
        for _ in range(EARLY_FLUSH_RECORDS - 1):
            batcher.add(record(user["id"], token["id"], 1))
        await asyncio.sleep(0.2)
        waiting_below = len(batcher.entries)
        for _ in range(EARLY_FLUSH_RECORDS + 10):
            batcher.add(record(user["id"], token["id"], 1))
        for _ in range(100):
            if not batcher.entries:
                break
            await asyncio.sleep(0.05)
        waiting_after = len(batcher.entries)
        await batcher.close()
        async with engine.connect() as conn:
            written = int((await conn.execute(select(func.count()).select_from(usage_records))).scalar_one())
        await engine.dispose()
        return waiting_below, waiting_after, written

    waiting_below, waiting_after, written = asyncio.run(main())
    assert waiting_below == EARLY_FLUSH_RECORDS - 1  # below the mark, records wait for the interval
    assert waiting_after < EARLY_FLUSH_RECORDS  # at the mark, they were written without it
    assert written == 2 * EARLY_FLUSH_RECORDS + 9  # and close() wrote the rest: every record once


async def _written_nothing(written: Written) -> None:
    """The test's ledger keeps no counters of its own."""
