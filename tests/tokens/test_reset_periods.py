"""Where daily, weekly and monthly periods begin: local midnights of the operator's zone, through DST."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

from relaygate.clock import now
from relaygate.store.database import create_engine
from relaygate.store.migrate import upgrade_to_head
from relaygate.tokens.resets import QuotaResetter, next_boundary, next_reset_at, period_start, reset_due_tokens
from relaygate.tokens.service import create_tokens, update_token
from relaygate.tokens.spec import TokenSpec
from relaygate.users.service import NewUser, create_user

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(text: str, zone: ZoneInfo) -> int:
    """Unix seconds of a local wall-clock time written as ISO-8601 without offset."""
    return int(datetime.fromisoformat(text).replace(tzinfo=zone).timestamp())


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text + "+00:00").timestamp())


@pytest.mark.parametrize(
    ("period", "moment", "start", "following"),
    [
        ("daily", "2026-11-24T12:30:00", "2026-11-24T00:00:00", "2026-11-25T00:00:00"),
        ("daily", "2026-11-24T00:00:00", "2026-11-24T00:00:00", "2026-11-25T00:00:00"),
        ("daily", "2026-11-23T23:59:59", "2026-11-23T00:00:00", "2026-11-24T00:00:00"),
        ("daily", "2026-12-31T18:00:00", "2026-12-31T00:00:00", "2027-01-01T00:00:00"),
        # 2026-11-24 is a Tuesday; weeks begin on Monday.
        ("weekly", "2026-11-24T12:30:00", "2026-11-23T00:00:00", "2026-11-30T00:00:00"),
        ("weekly", "2026-11-23T00:00:00", "2026-11-23T00:00:00", "2026-11-30T00:00:00"),
        ("weekly", "2026-11-22T23:59:59", "2026-11-16T00:00:00", "2026-11-23T00:00:00"),
        ("weekly", "2026-12-30T08:00:00", "2026-12-28T00:00:00", "2027-01-04T00:00:00"),
        ("monthly", "2026-11-24T12:30:00", "2026-11-01T00:00:00", "2026-12-01T00:00:00"),
        ("monthly", "2026-01-31T23:59:59", "2026-01-01T00:00:00", "2026-02-01T00:00:00"),
        ("monthly", "2026-02-28T12:00:00", "2026-02-01T00:00:00", "2026-03-01T00:00:00"),
        ("monthly", "2028-02-29T12:00:00", "2028-02-01T00:00:00", "2028-03-01T00:00:00"),
        ("monthly", "2026-03-31T23:00:00", "2026-03-01T00:00:00", "2026-04-01T00:00:00"),
        ("monthly", "2026-12-31T23:59:59", "2026-12-01T00:00:00", "2027-01-01T00:00:00"),
    ],
)
def test_periods_in_utc(period: str, moment: str, start: str, following: str) -> None:
    assert period_start(period, utc(moment), UTC) == utc(start)
    assert next_boundary(period, utc(moment), UTC) == utc(following)


def test_a_day_begins_at_local_midnight_not_utc_midnight() -> None:
    # 2026-11-24 07:00 UTC is already 15:00 in Shanghai (UTC+8): the day began at 16:00 UTC the evening before.
    moment = utc("2026-11-24T07:00:00")
    assert period_start("daily", moment, SHANGHAI) == utc("2026-11-23T16:00:00")
    assert next_boundary("daily", moment, SHANGHAI) == utc("2026-11-24T16:00:00")
    # 20:00 UTC on the 30th is the 1st in Shanghai: a new month there, not in UTC.
    assert period_start("monthly", utc("2026-11-30T20:00:00"), SHANGHAI) == utc("2026-11-30T16:00:00")
    assert period_start("monthly", utc("2026-11-30T20:00:00"), UTC) == utc("2026-11-01T00:00:00")


def test_berlin_spring_forward_day_is_23_hours() -> None:
    # Clocks go 02:00 -> 03:00 on Sunday 2026-03-29: that day starts at +01:00 and the next at +02:00.
    moment = at("2026-03-29T12:00:00", BERLIN)
    assert period_start("daily", moment, BERLIN) == utc("2026-03-28T23:00:00")
    assert next_boundary("daily", moment, BERLIN) == utc("2026-03-29T22:00:00")
    assert next_boundary("daily", moment, BERLIN) - period_start("daily", moment, BERLIN) == 23 * 3600
    # The week that holds the change began Monday 2026-03-23 at +01:00, the next begins at +02:00.
    assert period_start("weekly", moment, BERLIN) == utc("2026-03-22T23:00:00")
    assert next_boundary("weekly", moment, BERLIN) == utc("2026-03-29T22:00:00")
    assert next_boundary("monthly", moment, BERLIN) == utc("2026-03-31T22:00:00")


def test_berlin_fall_back_day_is_25_hours() -> None:
    # Clocks go 03:00 -> 02:00 on Sunday 2026-10-25.
    moment = at("2026-10-25T02:30:00", BERLIN)
    assert period_start("daily", moment, BERLIN) == utc("2026-10-24T22:00:00")
    assert next_boundary("daily", moment, BERLIN) == utc("2026-10-25T23:00:00")
    assert next_boundary("daily", moment, BERLIN) - period_start("daily", moment, BERLIN) == 25 * 3600
    assert period_start("monthly", moment, BERLIN) == utc("2026-09-30T22:00:00")
    assert next_boundary("monthly", moment, BERLIN) == utc("2026-10-31T23:00:00")


def test_new_york_across_both_changes() -> None:
    # DST starts 2026-03-08 (02:00 -> 03:00) and ends 2026-11-01 (02:00 -> 01:00).
    assert period_start("daily", utc("2026-03-08T12:00:00"), NEW_YORK) == utc("2026-03-08T05:00:00")
    assert next_boundary("daily", utc("2026-03-08T12:00:00"), NEW_YORK) == utc("2026-03-09T04:00:00")
    assert period_start("daily", utc("2026-11-01T12:00:00"), NEW_YORK) == utc("2026-11-01T04:00:00")
    assert next_boundary("daily", utc("2026-11-01T12:00:00"), NEW_YORK) == utc("2026-11-02T05:00:00")
    # Monthly: November 1st begins at EDT (-04:00), December 1st at EST (-05:00).
    assert period_start("monthly", utc("2026-11-15T12:00:00"), NEW_YORK) == utc("2026-11-01T04:00:00")
    assert next_boundary("monthly", utc("2026-11-15T12:00:00"), NEW_YORK) == utc("2026-12-01T05:00:00")
    # 03:00 UTC on December 1st is still November 30th in New York.
    assert period_start("monthly", utc("2026-12-01T03:00:00"), NEW_YORK) == utc("2026-11-01T04:00:00")


def test_a_skipped_midnight_starts_the_day_when_the_clocks_jump() -> None:
    # Chile springs forward at midnight: 2026-09-06 00:00 -> 01:00 (-04:00 -> -03:00); 00:00 never happens.
    santiago = ZoneInfo("America/Santiago")
    moment = at("2026-09-06T12:00:00", santiago)
    start = period_start("daily", moment, santiago)
    assert start == utc("2026-09-06T04:00:00")
    assert datetime.fromtimestamp(start, santiago).isoformat() == "2026-09-06T01:00:00-03:00"
    assert next_boundary("daily", start - 1, santiago) == start


@pytest.mark.parametrize("zone", [UTC, BERLIN, NEW_YORK, SHANGHAI])
@pytest.mark.parametrize("period", ["daily", "weekly", "monthly"])
def test_every_moment_lies_between_its_period_start_and_the_next_boundary(period: str, zone: ZoneInfo) -> None:
    moment = utc("2026-01-01T00:00:00")
    while moment < utc("2027-01-01T00:00:00"):
        start = period_start(period, moment, zone)
        following = next_boundary(period, moment, zone)
        assert start <= moment < following
        assert period_start(period, following, zone) == following
        assert next_boundary(period, start, zone) == following
        moment += 3 * 3600 + 17 * 60


def test_a_token_created_mid_period_resets_at_the_next_boundary_not_at_creation() -> None:
    created = at("2026-03-29T15:20:00", BERLIN)
    token = {"reset": "daily", "last_reset_at": None, "created_at": created}
    assert next_reset_at(token, BERLIN) == at("2026-03-30T00:00:00", BERLIN)
    assert next_reset_at({**token, "reset": "weekly"}, BERLIN) == at("2026-03-30T00:00:00", BERLIN)
    assert next_reset_at({**token, "reset": "monthly"}, BERLIN) == at("2026-04-01T00:00:00", BERLIN)
    reset_once = {**token, "last_reset_at": at("2026-03-30T00:00:00", BERLIN)}
    assert next_reset_at(reset_once, BERLIN) == at("2026-03-31T00:00:00", BERLIN)
    assert next_reset_at({**token, "reset": None}, BERLIN) is None


@pytest.mark.parametrize(
    ("local_time", "seconds"),
    [
        ("2026-03-29T23:59:30", 30.0),  # the next Berlin midnight, 22:00 UTC on the day clocks sprang forward
        ("2026-03-29T23:59:59", 1.0),
        ("2026-03-29T12:00:00", 60.0),  # never longer than max_sleep
        ("2026-03-30T00:00:00", 60.0),
    ],
)
def test_the_resetter_wakes_at_the_next_boundary_and_at_least_once_a_minute(local_time: str, seconds: float) -> None:
    moment = at(local_time, BERLIN)
    resetter = QuotaResetter(None, BERLIN, clock=lambda: moment, max_sleep=60.0)  # type: ignore[arg-type]
    assert resetter.seconds_to_sleep() == seconds


def test_a_period_set_on_an_old_token_counts_from_then_not_from_creation(tmp_path: Path) -> None:
    zone = UTC

    async def main() -> tuple[list[int], list[int]]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
        await upgrade_to_head(engine)
        with time_machine.travel(datetime(2026, 11, 1, 12, tzinfo=UTC), tick=False):
            async with engine.begin() as conn:
                user = await create_user(conn, NewUser(name="a", password="password-123", balance=1000))
                [token] = await create_tokens(conn, user["id"], TokenSpec())
        with time_machine.travel(datetime(2026, 11, 24, 15, tzinfo=UTC), tick=False):
            async with engine.begin() as conn:
                await update_token(conn, token["id"], {"reset": "daily"})
                right_away = await reset_due_tokens(conn, now(), zone)
        async with engine.begin() as conn:
            next_midnight = await reset_due_tokens(
                conn, int(datetime(2026, 11, 25, 0, 1, tzinfo=UTC).timestamp()), zone
            )
        await engine.dispose()
        return right_away, next_midnight

    right_away, next_midnight = asyncio.run(main())
    assert right_away == []  # its usage so far is not cleared by setting the period
    assert len(next_midnight) == 1
