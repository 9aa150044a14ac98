"""`--with-logs`: their consume logs as usage records (model, tokens, quota, time, channel, token).

Their users' and tokens' used quota already came over as opening usage; each imported log takes
its quota out of that opening usage, so charges, balances and the books stay exactly as they were.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.importer.context import ImportContext
from relaygate.importer.opening import ENDPOINT, explain_by_logs
from relaygate.importer.source import read_logs
from relaygate.store.schema import usage_records
from relaygate.usage.rollups import roll_up

CURSOR = "last_log_id"


async def import_logs(conn: AsyncConnection, ctx: ImportContext, source: AsyncConnection) -> None:
    part = ctx.part("logs")
    after = int(ctx.map.get("logs", CURSOR) or 0)
    if after:
        part.notes.append(f"logs up to id {after} were imported by an earlier run")
    token_by_name = _tokens_by_owner_and_name(ctx)
    skipped: Counter[str] = Counter()
    last = after
    async for chunk in read_logs(source, after):
        records = []
        explained: Counter[tuple[int, int | None]] = Counter()
        for row in ctx.progress.each("logs", chunk):
            last = int(row["id"])
            user_id = ctx.map.get_id("user", row.get("user_id"))
            if user_id is None:
                skipped["their user is not imported"] += 1
                continue
            token_id = _token_id(ctx, row, token_by_name)
            records.append(_record(ctx, row, user_id, token_id))
            explained[(user_id, token_id)] += int(row.get("quota") or 0)
        if records:
            await conn.execute(insert(usage_records), records)
            await roll_up(conn, records)
        for (user_id, token_id), quota in sorted(explained.items(), key=lambda item: (item[0][0], item[0][1] or 0)):
            ref = f"token:{token_id}" if token_id is not None else f"user:{user_id}"
            await explain_by_logs(conn, user_id=user_id, token_id=token_id, ref=ref, quota=quota)
        part.imported += len(records)
    for reason, count in skipped.items():
        part.skip(f"{count} logs", reason)
    if last != after:
        await ctx.map.move(conn, "logs", CURSOR, last)


def _tokens_by_owner_and_name(ctx: ImportContext) -> dict[tuple[Any, str], Any]:
    """one-api logs name their token but do not give its id: a name that is unique per user resolves."""
    seen: Counter[tuple[Any, str]] = Counter()
    found: dict[tuple[Any, str], Any] = {}
    for row in ctx.source.rows("tokens"):
        key = (row["user_id"], str(row.get("name") or ""))
        seen[key] += 1
        found[key] = row["id"]
    return {key: source_id for key, source_id in found.items() if seen[key] == 1}


def _token_id(ctx: ImportContext, row: dict[str, Any], by_name: dict[tuple[Any, str], Any]) -> int | None:
    source_token = row.get("token_id") or by_name.get((row.get("user_id"), str(row.get("token_name") or "")))
    return None if not source_token else ctx.map.get_id("token", source_token)


def _record(ctx: ImportContext, row: dict[str, Any], user_id: int, token_id: int | None) -> dict[str, Any]:
    # new-api's use_time is in seconds, one-api's elapsed_time in milliseconds.
    seconds = row.get("use_time")
    latency_ms = int(seconds or 0) * 1000 if "use_time" in row else int(row.get("elapsed_time") or 0)
    model = str(row.get("model_name") or "")[:128]
    return {
        "request_id": str(row.get("request_id") or f"{ctx.kind}-log-{row['id']}")[:64],
        "user_id": user_id,
        "token_id": token_id,
        "channel_id": ctx.map.get_id("channel", row.get("channel_id")) if row.get("channel_id") else None,
        "endpoint": ENDPOINT,
        "model": model,
        "upstream_model": model,
        "prompt_tokens": int(row.get("prompt_tokens") or 0),
        "cached_tokens": 0,
        "completion_tokens": int(row.get("completion_tokens") or 0),
        "quota": int(row.get("quota") or 0),
        "latency_ms": latency_ms,
        "status_code": 200,
        "stream": bool(row.get("is_stream")),
        "client_ip": str(row.get("ip") or "")[:64],
        "created_at": int(row.get("created_at") or 0),
    }
