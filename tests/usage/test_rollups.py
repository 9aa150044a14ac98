"""The rollups answer every analytics question and the books as a scan of every usage record would:
for each filter (user, token, model, a range whose ends fall anywhere), each bucket and time zone, after
retention folds old records, after an upgrade from a database without rollups, and with several
processes writing at once. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from relaygate.billing.books import check_books
from relaygate.billing.usage_batch import write_usage
from relaygate.billing.usage_queries import UsageFilter
from relaygate.billing.usage_summary import usage_summary
from relaygate.clock import now
from relaygate.importer.opening import explain_by_logs, write_opening_usage
from relaygate.settings import to_async_url
from relaygate.store.database import create_engine
from relaygate.store.migrate import alembic_config, upgrade_to_head
from relaygate.store.schema import tokens, usage_records, usage_rollups, users
from relaygate.usage.retention import cutoff, fold_old_usage, folded_before
from relaygate.usage.rollups import ALL_TIME, COUNTS, DAY, HOUR, keys_of, roll_up
from tests.support.usage_scan import MODELS, Accounts, Scan, make_accounts, random_records

BYS = ("day", "model", "user", "token", "channel", "group")
ZONES = (None, "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns")


@pytest.fixture
def url(database_url: str, tmp_path: Path) -> str:
    return to_async_url(database_url or f"sqlite:///{tmp_path / 'rollups.db'}")


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def written(url: str, seed: int, count: int, days: int = 6) -> tuple[AsyncEngine, Accounts]:
    """A migrated database with `count` random records over the last `days` days, written in batches."""
    engine = create_engine(url)
    await upgrade_to_head(engine)
    accounts = await make_accounts(engine)
    rng = random.Random(seed)
    records = random_records(rng, accounts, count, now() - days * DAY, now())
    while records:
        batch, records = records[: rng.randrange(1, 400)], records[400:]
        async with engine.begin() as conn:
            await write_usage(conn, batch)
    return engine, accounts


def filters(rng: random.Random, accounts: Accounts, scan: Scan, count: int) -> Iterator[tuple[UsageFilter, str, Any]]:
    """Random questions: whose, which model, a range with ends on a day, on an hour, or anywhere (or none)."""
    first = min(record["created_at"] for record in scan.records)
    last = max(record["created_at"] for record in scan.records)

    def moment() -> int | None:
        at = rng.randrange(first - DAY, last + DAY)
        return rng.choice((None, at, at - at % HOUR, at - at % DAY))

    for _ in range(count):
        user_id, token_id = rng.choice(accounts.tokens)
        start, end = moment(), moment()
        if start is not None and end is not None and start > end:
            start, end = end, start
        where = UsageFilter(
            user_id=rng.choice((None, user_id)),
            token_id=rng.choice((None, None, token_id)),
            model=rng.choice((None, None, *MODELS)),
            start=start,
            end=end,
        )
        by = rng.choice(BYS)
        zone = rng.choice(ZONES) if by == "day" else None
        yield where, by, ZoneInfo(zone) if zone else None


async def compare(engine: AsyncEngine, accounts: Accounts, scan: Scan, seed: int, count: int) -> int:
    """How many random questions were asked; fails on the first whose answers differ."""
    async with engine.connect() as conn:
        fold = await folded_before(conn)
    rng = random.Random(seed)
    asked = 0
    for where, by, zone in filters(rng, accounts, scan, count):
        assert await usage_summary(engine, where, by, zone) == scan.summary(where, by, zone, fold), (where, by, zone)
        asked += 1
    for by in BYS:  # and every bucket over everything
        assert await usage_summary(engine, UsageFilter(user_id=None), by) == scan.summary(
            UsageFilter(None), by, None, fold
        )
    return asked


async def books_against(engine: AsyncEngine, scan: Scan, accounts: Accounts) -> None:
    """Balanced; and with every balance off by one, each account reported with the charges a scan finds."""
    async with engine.begin() as conn:
        assert (await check_books(conn))["balanced"] is True
        await conn.execute(update(users).values(balance=users.c.balance + 1))
        report = await check_books(conn)
        await conn.execute(update(users).values(balance=users.c.balance - 1))
    charges = scan.charges("user_id")
    assert {row["id"]: row["charges"] for row in report["accounts"]} == {u: charges.get(u, 0) for u in accounts.users}
    overruns = {}
    for record in scan.records:
        if record["overrun"] > 0:
            requests, quota = overruns.get(record["channel_id"], (0, 0))
            overruns[record["channel_id"]] = (requests + 1, quota + record["overrun"])
    assert {row["channel_id"]: (row["requests"], row["quota"]) for row in report["overruns"]} == overruns


def test_rollups_answer_as_a_scan_of_the_records_before_and_after_a_fold(url: str) -> None:
    async def main() -> None:
        engine, accounts = await written(url, seed=1, count=3000)
        try:
            async with engine.connect() as conn:
                scan = await Scan.read(conn)
            assert await compare(engine, accounts, scan, seed=2, count=150) == 150
            await books_against(engine, scan, accounts)

            assert await fold_old_usage(engine, 3) > 0
            async with engine.connect() as conn:
                fold = await folded_before(conn)
                kept = (await conn.execute(select(func.count()).select_from(usage_records))).scalar_one()
                hours = await conn.scalar(select(func.min(usage_rollups.c.bucket)).where(usage_rollups.c.span == HOUR))
            assert fold == cutoff(3, now())
            assert kept == sum(1 for record in scan.records if record["created_at"] >= fold)
            assert hours >= fold  # the hours before the fold point went with their records
            assert await compare(engine, accounts, scan, seed=3, count=150) == 150  # the scan keeps every record
            await books_against(engine, scan, accounts)
        finally:
            await engine.dispose()

    run(main())


def test_a_batch_adds_each_record_to_its_hour_day_and_all_time(url: str) -> None:
    async def main() -> list[tuple[int, ...]]:
        engine, accounts = await written(url, seed=4, count=0)
        user_id, token_id = accounts.tokens[0]
        [record] = random_records(random.Random(5), accounts, 1, 1_800_000_000, 1_800_000_001)
        record = record._replace(user_id=user_id, token_id=token_id, quota=7)
        async with engine.begin() as conn:
            await write_usage(conn, [record, record])
        async with engine.connect() as conn:
            table = usage_rollups
            rows = await conn.execute(
                select(table.c.span, table.c.bucket, table.c.user_id, table.c.requests, table.c.quota).order_by(
                    table.c.span, table.c.user_id
                )
            )
            found = [tuple(row) for row in rows]
        await engine.dispose()
        return found

    hour, day = 1_800_000_000 - 1_800_000_000 % HOUR, 1_800_000_000 - 1_800_000_000 % DAY
    assert run(main()) == [(ALL_TIME, 0, 1, 2, 14), (HOUR, hour, 0, 2, 14), (HOUR, hour, 1, 2, 14),
                           (DAY, day, 0, 2, 14), (DAY, day, 1, 2, 14)]  # fmt: skip


def write_batches(url: str, seed: int, accounts: Accounts, batches: int) -> None:
    """One writer process: many small transactions over the same users, tokens and hours as the others."""

    async def main() -> None:
        engine = create_engine(url)
        rng = random.Random(seed)
        try:
            for _ in range(batches):
                records = random_records(rng, accounts, rng.randrange(1, 60), 1_800_000_000, 1_800_000_000 + 2 * HOUR)
                async with engine.begin() as conn:
                    await write_usage(conn, records)
        finally:
            await engine.dispose()

    run(main())


def test_several_processes_writing_at_once_lose_no_addition(url: str) -> None:
    async def accounts_only() -> Accounts:
        engine, accounts = await written(url, seed=6, count=0)
        await engine.dispose()
        return accounts

    accounts = run(accounts_only())
    with ProcessPoolExecutor(max_workers=4, mp_context=get_context("spawn")) as pool:
        for done in [pool.submit(write_batches, url, seed, accounts, 40) for seed in range(4)]:
            done.result()

    async def main() -> None:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                scan = await Scan.read(conn)
                rollups = {
                    tuple(row[:7]): tuple(row[7:])
                    for row in await conn.execute(select(usage_rollups).order_by(*usage_rollups.primary_key))
                }
            assert len(scan.records) > 4 * 40
            assert rollups == await rolled_up_in_one_go(url, scan.records)
            assert await compare(engine, accounts, scan, seed=7, count=40) == 40
            await books_against(engine, scan, accounts)
        finally:
            await engine.dispose()

    run(main())


async def rolled_up_in_one_go(url: str, records: list[dict[str, Any]]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """The rollups of the records written by one writer, in one call, on a fresh copy of the schema."""
    expected: dict[tuple[Any, ...], list[int]] = {}
    for record in records:
        for key in keys_of(record):
            row = expected.setdefault(key, [0] * len(COUNTS))
            added = {"requests": 1, "served": int(record["status_code"] < 300), "errors": int(record["status_code"] >= 400),
                     "overruns": int(record["overrun"] > 0), "latency_ms_total": record["latency_ms"]}  # fmt: skip
            for index, name in enumerate(COUNTS):
                row[index] += added[name] if name in added else record[name]
    return {key: tuple(values) for key, values in expected.items()}


def test_an_upgraded_database_has_the_rollups_of_its_records_and_folded_days(url: str) -> None:
    """A database of the previous schema (records, and days retention folded into usage_daily) upgrades
    to rollups that answer as its records and folded days did."""

    async def main() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0014"))
            accounts = await make_accounts(engine)
            rng = random.Random(8)
            base = now() - now() % DAY
            # (usage_daily counted requests - errors as served: it kept no 3xx answers apart)
            folded = [
                record._replace(status_code=200) if record.status_code == 302 else record
                for record in random_records(rng, accounts, 800, base - 6 * DAY, base - 3 * DAY)
            ]
            live = random_records(rng, accounts, 1500, base - 3 * DAY, now())
            async with engine.begin() as conn:
                await conn.execute(insert(usage_records), [record.row() for record in folded + live])
                scan = await Scan.read(conn)
                await conn.exec_driver_sql(OLD_FOLD.format(base - 3 * DAY))
                await conn.execute(usage_records.delete().where(usage_records.c.created_at < base - 3 * DAY))
                # the books of the old schema: what the records charged, on the balances and tokens
                for user_id, charges in scan.charges("user_id").items():
                    await conn.execute(
                        update(users).where(users.c.id == user_id).values(
                            balance=users.c.balance - charges, used_quota=charges
                        )
                    )  # fmt: skip
                for token_id, charges in scan.charges("token_id").items():
                    await conn.execute(update(tokens).where(tokens.c.id == token_id).values(used_quota=charges))
            for record in scan.records:  # the old schema had no cache-write columns in usage_daily
                if record["created_at"] < base - 3 * DAY:
                    record["cache_write_5m_tokens"] = 0
            await upgrade_to_head(engine)
            async with engine.connect() as conn:
                assert await folded_before(conn) == base - 3 * DAY
            assert await compare(engine, accounts, scan, seed=9, count=120) == 120
            await books_against(engine, scan, accounts)
        finally:
            await engine.dispose()

    run(main())


# What retention did before the rollups (relaygate/usage/retention.py at revision 0014).
OLD_FOLD = """INSERT INTO usage_daily (day, user_id, token_id, channel_id, model, "group", requests, errors,
prompt_tokens, cached_tokens, completion_tokens, quota, overrun, overruns, latency_ms_total)
SELECT created_at - created_at % 86400, user_id, token_id, channel_id, model, "group", COUNT(*),
SUM(CASE WHEN status_code >= 400 THEN 1 ELSE 0 END), SUM(prompt_tokens), SUM(cached_tokens), SUM(completion_tokens),
SUM(quota), SUM(overrun), SUM(CASE WHEN overrun > 0 THEN 1 ELSE 0 END), SUM(latency_ms) FROM usage_records
WHERE created_at < {} GROUP BY created_at - created_at % 86400, user_id, token_id, channel_id, model, "group\""""


def test_an_import_correction_moves_the_rollups_with_the_record(url: str) -> None:
    """An imported log takes its quota out of the opening usage: the charges stay, the models move."""

    async def main() -> tuple[dict[str, int], bool]:
        engine, accounts = await written(url, seed=10, count=0)
        user_id, token_id = accounts.tokens[0]
        async with engine.begin() as conn:
            await write_opening_usage(conn, user_id=user_id, token_id=token_id, quota=500, ref=f"token:{token_id}")
            [log] = random_records(random.Random(11), accounts, 1, now() - 10, now())
            log_row = log.row() | {"user_id": user_id, "token_id": token_id, "quota": 120, "status_code": 200}
            await conn.execute(insert(usage_records), [log_row])  # as importer.logs writes them
            await roll_up(conn, [log_row])
            await explain_by_logs(conn, user_id=user_id, token_id=token_id, ref=f"token:{token_id}", quota=120)
            await conn.execute(update(users).where(users.c.id == user_id).values(balance=users.c.balance - 500))
        totals = await usage_summary(engine, UsageFilter(user_id=user_id), "model")
        async with engine.begin() as conn:
            books = await check_books(conn)
        await engine.dispose()
        return {row["key"]: row["quota"] for row in totals}, books["tokens"] == []

    quotas, balanced = run(main())
    assert sorted(quotas.values()) == [120, 380]
    assert balanced
