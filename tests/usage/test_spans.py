"""Which rows answer a range: whole days, whole hours, and the records of the partial hours at its ends."""

from __future__ import annotations

from relaygate.usage.rollups import DAY, HOUR
from relaygate.usage.spans import Plan, cut_hours, plan_range

D = 20_000 * DAY  # a UTC midnight


def test_an_unbounded_question_reads_all_time_unless_it_asks_per_day() -> None:
    assert plan_range(None, None, 0, whole_days=True, all_time=True) == Plan(all_time=True)
    assert plan_range(None, None, 0, whole_days=True, all_time=False) == Plan(days=[(None, None)])


def test_ends_off_the_hour_read_their_partial_hours_from_the_records() -> None:
    start, end = D + 5 * HOUR + 60, D + 2 * DAY + 3 * HOUR + 7
    assert plan_range(start, end, 0, whole_days=True, all_time=True) == Plan(
        days=[(D + DAY, D + 2 * DAY)],
        hours=[(D + 6 * HOUR, D + DAY), (D + 2 * DAY, D + 2 * DAY + 3 * HOUR)],
        records=[(start, D + 6 * HOUR), (D + 2 * DAY + 3 * HOUR, end)],
    )
    inside_an_hour = plan_range(D + 60, D + 120, 0, whole_days=True, all_time=True)
    assert inside_an_hour == Plan(records=[(D + 60, D + 120)])
    assert plan_range(D, D + 3 * HOUR, 0, whole_days=False, all_time=True) == Plan(hours=[(D, D + 3 * HOUR)])


def test_before_the_fold_point_a_day_counts_when_its_midnight_is_in_range() -> None:
    fold = D + 3 * DAY
    assert plan_range(D + HOUR, None, fold, whole_days=True, all_time=True) == Plan(days=[(D, fold), (fold, None)])
    assert plan_range(None, D + DAY + 1, fold, whole_days=True, all_time=True) == Plan(days=[(None, D + DAY + 1)])


def test_an_hour_a_local_midnight_cuts_is_read_from_its_records() -> None:
    plan = plan_range(D, D + 2 * DAY, 0, whole_days=False, all_time=False)
    kolkata_midnights = [D + DAY - 5 * HOUR - 1800, D + 2 * DAY - 5 * HOUR - 1800]
    assert cut_hours(plan, kolkata_midnights) == Plan(
        hours=[(D, D + 18 * HOUR), (D + 19 * HOUR, D + DAY + 18 * HOUR), (D + DAY + 19 * HOUR, D + 2 * DAY)],
        records=[(D + 18 * HOUR, D + 19 * HOUR), (D + DAY + 18 * HOUR, D + DAY + 19 * HOUR)],
    )
    berlin = [D + DAY - HOUR]  # on the hour: hourly rows answer it
    assert cut_hours(plan_range(D, D + 2 * DAY, 0, whole_days=False, all_time=False), berlin).records == []
