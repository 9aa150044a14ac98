"""Usage summed as it is written: the one rule that keeps `usage_rollups` equal to the usage records.

Every write of usage records (the batch writer, imports) calls `roll_up` in the same transaction, so
the sums can never disagree with the records. Each record adds to three rows of its user, token,
channel, model and serving group: its hour, its UTC day, and all time; and to the hour and day rows
of everyone (user and token 0) for its channel, model and group, which answer the site-wide questions
(per day, model or channel over all users) without reading every user's rows. Rows are upserted
(`INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n`), the same statement on SQLite and
PostgreSQL; the rows of one call are distinct and sorted, so concurrent writers of several
processes lock them in the same order and cannot deadlock, and an addition is never lost.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.billing.usage_record import UsageRecord
from relaygate.store.schema import usage_rollups

HOUR = 3600
DAY = 86400
ALL_TIME = 0  # the span of the rows that sum all time (bucket 0)
SPANS = (HOUR, DAY, ALL_TIME)
EVERYONE = 0  # the user and token of the site-wide rows (ids start at 1)
SITE_SPANS = (HOUR, DAY)  # all time over everyone is small enough as it is
KEY = ("span", "bucket", "user_id", "token_id", "channel_id", "model", "group")
COUNTS = (
    "requests",
    "served",
    "errors",
    "prompt_tokens",
    "cached_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "completion_tokens",
    "quota",
    "overrun",
    "overruns",
    "latency_ms_total",
)

Key = tuple[int, int, int, int, int, str, str]


def bucket_of(span: int, moment: int) -> int:
    return 0 if span == ALL_TIME else moment - moment % span


def counts_of(record: Mapping[str, Any]) -> list[int]:
    """What one usage record (as the table's columns) adds to its rows, in the order of COUNTS."""
    get = record.get
    return _counts(
        int(record["status_code"]),
        int(get("prompt_tokens") or 0),
        int(get("cached_tokens") or 0),
        int(get("cache_write_5m_tokens") or 0),
        int(get("cache_write_1h_tokens") or 0),
        int(get("completion_tokens") or 0),
        int(record["quota"]),
        int(get("overrun") or 0),
        int(get("latency_ms") or 0),
    )


def _counts(
    status: int, prompt: int, cached: int, write_5m: int, write_1h: int, completion: int, quota: int, overrun: int,
    latency_ms: int,
) -> list[int]:  # fmt: skip
    return [
        1,  # requests
        int(status < 300),  # served
        int(status >= 400),  # errors
        prompt,
        cached,
        write_5m,
        write_1h,
        completion,
        quota,
        overrun,
        int(overrun > 0),  # overruns
        latency_ms,  # latency_ms_total
    ]


def keys_of(record: Mapping[str, Any]) -> list[Key]:
    """The record's row of each span, and its site-wide rows."""
    return _keys(_owner_of(record), int(record["created_at"]))


async def roll_up(conn: AsyncConnection, records: Iterable[Mapping[str, Any]]) -> None:
    """Add the records (as the usage_records table's columns) to their rollups."""
    await _add(conn, [(_owner_of(record), int(record["created_at"]), counts_of(record)) for record in records])


async def roll_up_usage(conn: AsyncConnection, records: Iterable[UsageRecord]) -> None:
    """`roll_up` for the relay's own records, read without turning each into a dict first."""
    changes = []
    for r in records:
        owner = _owner(r.user_id, r.token_id, r.channel_id, r.model, r.group)
        counts = _counts(
            r.status_code, r.prompt_tokens, r.cached_tokens, r.cache_write_5m_tokens, r.cache_write_1h_tokens,
            r.completion_tokens, r.quota, r.overrun, r.latency_ms,
        )  # fmt: skip
        changes.append((owner, r.created_at, counts))
    await _add(conn, changes)


async def add_counts(conn: AsyncConnection, changes: Iterable[tuple[Mapping[str, Any], Mapping[str, int]]]) -> None:
    """Add `counts` to each record's rows (an import's correction of a record's quota adds only quota)."""
    values = []
    for record, counts in changes:
        row = [0] * len(COUNTS)
        for name, value in counts.items():
            row[_COUNT_INDEX[name]] = value
        values.append((_owner_of(record), int(record["created_at"]), row))
    await _add(conn, values)


async def _add(conn: AsyncConnection, changes: list[tuple[Owner, int, list[int]]]) -> None:
    """Add each record's counts (in the order of COUNTS) to its rows.

    The records of one flush share few owners and hours: they are summed per owner and hour first,
    and only those sums are spread over their rows (a record's day and all-time rows follow from its
    hour), so the work on the event loop grows with the groups, not with every row of every record.
    """
    by_hour: dict[tuple[int, Owner], list[int]] = {}
    for owner, moment, counts in changes:
        group = (moment - moment % HOUR, owner)
        sums = by_hour.get(group)
        if sums is None:
            by_hour[group] = list(counts)
        else:
            for index, value in enumerate(counts):
                sums[index] += value
    summed: dict[Key, list[int]] = {}
    for (hour, owner), sums in by_hour.items():
        for key in _keys(owner, hour):
            row = summed.get(key)
            if row is None:
                summed[key] = list(sums)
            else:
                for index, value in enumerate(sums):
                    row[index] += value
    rows = [dict(zip(KEY, key, strict=True)) | dict(zip(COUNTS, summed[key], strict=True)) for key in sorted(summed)]
    if rows:
        # one statement, compiled once and cached, executed for every row
        await conn.execute(_upsert(conn.dialect.name), rows)


Owner = tuple[int, int, int, str, str]
_COUNT_INDEX = {name: index for index, name in enumerate(COUNTS)}


def _owner_of(record: Mapping[str, Any]) -> Owner:
    get = record.get
    return _owner(int(record["user_id"]), get("token_id"), get("channel_id"), str(record["model"]), get("group"))


def _owner(user_id: int, token_id: int | None, channel_id: int | None, model: str, group: str | None) -> Owner:
    """Whose rows a record adds to: no token or channel is 0, no group is ''."""
    return (user_id, int(token_id or 0), int(channel_id or 0), model, str(group or ""))


def _keys(owner: Owner, moment: int) -> list[Key]:
    site = (EVERYONE, EVERYONE, *owner[2:])
    return [(span, bucket_of(span, moment), *owner) for span in SPANS] + [
        (span, bucket_of(span, moment), *site) for span in SITE_SPANS
    ]


@functools.cache
def _upsert(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(usage_rollups)
    return statement.on_conflict_do_update(
        index_elements=list(KEY),
        set_={name: usage_rollups.c[name] + statement.excluded[name] for name in COUNTS},
    )
