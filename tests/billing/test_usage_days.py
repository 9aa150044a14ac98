"""Per-day usage totals in the caller's time zone: a record belongs to the day of its local time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from relaygate.billing.usage_batch import write_usage
from relaygate.billing.usage_queries import UsageFilter
from relaygate.billing.usage_summary import usage_summary
from relaygate.store.database import create_engine
from relaygate.store.migrate import upgrade_to_head
from tests.billing.test_ledger import record


def at(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp())


def days(tmp_path: Path, zone: str | None) -> dict[str, int]:
    tmp_path.mkdir()

    async def main() -> dict[str, int]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'u.db'}")
        await upgrade_to_head(engine)
        async with engine.begin() as conn:
            await write_usage(conn, [
                record(1, 1, quota, created_at=at(moment))
                for moment, quota in (("2026-11-23T23:30:00", 1), ("2026-11-24T00:30:00", 10), ("2026-11-24T18:40:00", 100))
            ])  # fmt: skip
        rows = await usage_summary(engine, UsageFilter(user_id=1), "day", ZoneInfo(zone) if zone else None)
        await engine.dispose()
        return {row["key"]: row["quota"] for row in rows}

    return asyncio.run(main())


def test_days_are_utc_by_default_and_local_with_a_zone(tmp_path: Path) -> None:
    assert days(tmp_path / "a", None) == {"2026-11-23": 1, "2026-11-24": 110}
    assert days(tmp_path / "b", "Europe/Berlin") == {"2026-11-24": 111}  # 00:30, 01:30, 19:40
    assert days(tmp_path / "c", "America/New_York") == {"2026-11-23": 11, "2026-11-24": 100}  # 18:30, 19:30, 13:40
    assert days(tmp_path / "d", "Asia/Kolkata") == {"2026-11-24": 11, "2026-11-25": 100}  # 05:00, 06:00, 00:10
