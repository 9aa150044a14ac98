"""Which rows answer a time range exactly: all-time rollups, whole UTC days, whole hours, and the records
of the partial hours at its ends (and of any hour a bucket boundary cuts, such as a local midnight at
half past the hour).

Before the fold point (`relaygate.usage.retention`) only days are known, and a day counts when its UTC
midnight is in [start rounded down to its day, end): how folded usage has always been counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from relaygate.usage.rollups import DAY, HOUR

Range = tuple[int | None, int | None]  # [lo, hi) in Unix seconds; None: unbounded on that side


@dataclass
class Plan:
    all_time: bool = False
    days: list[Range] = field(default_factory=list)
    hours: list[Range] = field(default_factory=list)
    records: list[Range] = field(default_factory=list)


def plan_range(start: int | None, end: int | None, fold: int, *, whole_days: bool, all_time: bool) -> Plan:
    """`whole_days`: a UTC day may be read as one (the answer needs nothing finer); `all_time`: an
    unbounded range may be read from the all-time rows."""
    if start is None and end is None and all_time:
        return Plan(all_time=True)
    plan = Plan()
    if fold > 0 and (start is None or start < fold):
        folded = (None if start is None else start - start % DAY, fold if end is None else min(end, fold))
        if _nonempty(folded):
            plan.days.append(folded)
    live = (fold if start is None else max(start, fold)) if fold > 0 or start is not None else None
    if _nonempty((live, end)):
        _plan_live(plan, live, end, whole_days=whole_days)
    return plan


def cut_hours(plan: Plan, cuts: list[int]) -> Plan:
    """Read the hours that contain a bucket boundary (not on the hour) from their records instead."""
    hours = sorted({cut - cut % HOUR for cut in cuts if cut % HOUR})
    for hour in hours:
        inside = [part for part in plan.hours if _contains(part, hour)]
        if not inside:
            continue
        [part] = inside
        plan.hours.remove(part)
        plan.hours += [piece for piece in ((part[0], hour), (hour + HOUR, part[1])) if _nonempty(piece)]
        plan.records.append((hour, hour + HOUR))
    return plan


def _plan_live(plan: Plan, lo: int | None, hi: int | None, *, whole_days: bool) -> None:
    h0, h1 = _ceil(lo, HOUR), _floor(hi, HOUR)
    if not _nonempty((h0, h1)):  # no whole hour inside
        plan.records.append((lo, hi))
        return
    if lo is not None and h0 is not None and lo < h0:
        plan.records.append((lo, h0))
    if hi is not None and h1 is not None and h1 < hi:
        plan.records.append((h1, hi))
    d0, d1 = _ceil(h0, DAY), _floor(h1, DAY)
    if not whole_days or not _nonempty((d0, d1)):
        plan.hours.append((h0, h1))
        return
    plan.days.append((d0, d1))
    plan.hours += [piece for piece in ((h0, d0), (d1, h1)) if piece[0] is not None and piece[1] is not None]
    plan.hours = [piece for piece in plan.hours if _nonempty(piece)]


def _nonempty(part: Range) -> bool:
    lo, hi = part
    return lo is None or hi is None or lo < hi


def _contains(part: Range, moment: int) -> bool:
    lo, hi = part
    return (lo is None or lo <= moment) and (hi is None or moment < hi)


def _ceil(moment: int | None, span: int) -> int | None:
    return None if moment is None else -(-moment // span) * span


def _floor(moment: int | None, span: int) -> int | None:
    return None if moment is None else moment - moment % span
