"""`/api/usage`: the caller's usage records (admins: anyone's, with `user_id`), totals, and CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from relaygate.api.caller import CallerDep
from relaygate.api.iso_time import IsoTime
from relaygate.api.numbers import INT64_MAX, IdQuery
from relaygate.api.pages import Page, PagingDep
from relaygate.billing.usage_queries import COLUMNS, UsageFilter, usage_page, usage_rows
from relaygate.billing.usage_summary import usage_summary
from relaygate.clock import unix_seconds
from relaygate.errors import Forbidden, InvalidValue

router = APIRouter(tags=["usage"])


class UsageRecord(BaseModel):
    id: int
    created_at: datetime
    request_id: str
    user_id: int
    token_id: int | None
    channel_id: int | None
    endpoint: str
    model: str
    upstream_model: str
    prompt_tokens: int
    cached_tokens: int
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    completion_tokens: int
    quota: int = Field(description="quota units charged: never more than the request held")
    overrun: int = Field(
        default=0, description="what usage the upstream reported beyond the hold would have cost: not billed"
    )
    latency_ms: int
    status_code: int
    stream: bool
    client_ip: str


class SummaryRow(BaseModel):
    key: str = Field(description="the day, model, or id of the user, token or channel, or the group name")
    requests: int
    errors: int = Field(description="requests answered with a status of 400 or more")
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    quota: int = Field(description="quota units charged")
    mean_latency_ms: float
    cost: int | None = Field(
        default=None, description="admins: quota units the upstream charged, where the channel has cost prices"
    )
    margin: int | None = Field(default=None, description="admins: quota charged minus cost, over the costed requests")


class Totals(BaseModel):
    requests: int
    prompt_tokens: int
    completion_tokens: int
    quota: int = Field(description="quota units spent (1 USD = 500,000)")


class Summary(BaseModel):
    by: str
    items: list[SummaryRow]


def usage_filter(
    caller: CallerDep,
    token_id: IdQuery = None,
    model: Annotated[str | None, Query(max_length=128)] = None,
    start: Annotated[IsoTime | None, Query(alias="from", description="ISO-8601, inclusive")] = None,
    end: Annotated[IsoTime | None, Query(alias="to", description="ISO-8601, exclusive")] = None,
    user_id: Annotated[int | None, Query(ge=1, le=INT64_MAX, description="admins only: another user's records")] = None,
    all_users: Annotated[
        bool, Query(description="admins only: every user's records (the site); user_id narrows it to one")
    ] = False,
    channel_id: Annotated[
        int | None, Query(ge=1, le=INT64_MAX, description="admins only: the records one channel served")
    ] = None,
    status: Annotated[
        Literal["ok", "error"] | None,
        Query(
            description="ok: answered below 400; error: 400 or more. Days already folded into daily totals "
            "(older than RELAYGATE_USAGE_RETENTION_DAYS) are not counted when it is given"
        ),
    ] = None,
) -> UsageFilter:
    if not caller.is_admin and ((user_id is not None and user_id != caller.id) or all_users or channel_id is not None):
        raise Forbidden("Only administrators see other users' usage or filter by channel.")
    owner = user_id if user_id is not None else (None if all_users else caller.id)
    return UsageFilter(
        user_id=owner,
        token_id=token_id,
        model=model,
        start=unix_seconds(start),
        end=unix_seconds(end),
        channel_id=channel_id,
        status=status,
    )


FilterDep = Annotated[UsageFilter, Depends(usage_filter)]


@router.get("/usage", response_model=Page[UsageRecord])
async def list_usage(caller: CallerDep, where: FilterDep, paging: PagingDep) -> dict[str, Any]:
    """Newest first. Records reach the database within RELAYGATE_FLUSH_INTERVAL of the request."""
    items, total = await usage_page(caller.rt.engine, where, paging.page, paging.per_page)
    if not caller.is_admin:
        items = [item | {"channel_id": None} for item in items]
    return {"items": items, "total": total, "page": paging.page, "per_page": paging.per_page}


ADMIN_BUCKETS = ("user", "token", "channel", "group")


@router.get("/usage/summary", response_model=Summary)
async def summarise_usage(
    caller: CallerDep,
    where: FilterDep,
    user_id: Annotated[int | None, Query(description="admins: narrow to one user")] = None,
    by: Literal["day", "model", "user", "token", "channel", "group"] = "day",
    tz: Annotated[
        str | None, Query(description="days of this IANA time zone (e.g. Europe/Berlin); UTC without")
    ] = None,
) -> dict[str, Any]:
    """The caller's own totals per day or model; for admins, everyone's (or `user_id`'s) per any bucket,
    with the upstream cost and margin where channels have cost prices."""
    if caller.is_admin:
        where = replace(where, user_id=user_id)
    elif by in ADMIN_BUCKETS:
        raise Forbidden(f"Totals by {by} are for administrators; use by=day or by=model.")
    items = await usage_summary(caller.rt.engine, where, by, _zone(tz))
    if not caller.is_admin:
        items = [item | {"cost": None, "margin": None} for item in items]
    return {"by": by, "items": items}


def _zone(name: str | None) -> ZoneInfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidValue("tz must be an IANA time zone name such as Europe/Berlin", field="tz") from exc


@router.get("/usage/totals", response_model=Totals)
async def total_usage(caller: CallerDep, where: FilterDep) -> dict[str, Any]:
    """One total over the filter, e.g. the spend since the start of today or of this month in the caller's time zone."""
    totals = dict.fromkeys(("requests", "prompt_tokens", "completion_tokens", "quota"), 0)
    for row in await usage_summary(caller.rt.engine, where, "model"):
        for name in totals:
            totals[name] += row[name]
    return totals


@router.get("/usage.csv", response_class=StreamingResponse)
async def export_usage(caller: CallerDep, where: FilterDep) -> StreamingResponse:
    """Every matching record as CSV, oldest first, streamed."""
    columns = COLUMNS if caller.is_admin else tuple(c for c in COLUMNS if c != "channel_id")
    rows = usage_rows(caller.rt.engine, where)
    # The first batch is read before the answer starts: a failing query is an error answer, not a
    # CSV that stops after its header line.
    first = await anext(rows, None)
    return StreamingResponse(
        _csv_lines(_prepend(first, rows), columns),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="usage.csv"'},
    )


async def _prepend(first: dict[str, Any] | None, rest: AsyncIterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    if first is None:
        return
    yield first
    async for row in rest:
        yield row


async def _csv_lines(rows: AsyncIterator[dict[str, Any]], columns: tuple[str, ...]) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    async for row in rows:
        created = datetime.fromtimestamp(row["created_at"], UTC).isoformat().replace("+00:00", "Z")
        writer.writerow([created if column == "created_at" else row[column] for column in columns])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
