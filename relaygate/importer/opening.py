"""Opening usage: what an imported account and token had already spent at the source.

The books say, for every account, credits = balance + charges and used quota = charges, and for
every token, used quota (+ quota cleared) = charges. An imported account is credited its balance
plus its used quota (one `import` ledger entry, `users.service.import_user`); its used quota is then
charged as usage records marked `endpoint = "import"`, one per imported token (its used quota) and
one for the account (the rest), through the ledger's own `write_usage`. So the books balance
honestly right after the import, and the opening records can be told apart from real requests.
"""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.billing.usage_batch import write_usage
from relaygate.billing.usage_record import UsageRecord
from relaygate.clock import now
from relaygate.store.schema import usage_records
from relaygate.usage.rollups import add_counts, roll_up

ENDPOINT = "import"
MODEL = "(usage before the import)"


async def write_opening_usage(
    conn: AsyncConnection, *, user_id: int, token_id: int | None, quota: int, ref: str, at: int | None = None
) -> None:
    """Charge `quota` (may be negative: a correction) as opening usage; `ref` (`user:ID`, `token:ID`, by
    relaygate ids, so unique across sources) names the record for `explain_by_logs`."""
    if quota == 0:
        return
    # write_usage also counts the record as a request: the callers set the imported count afterwards.
    await write_usage(conn, [_record(user_id, token_id, quota, ref, at)])


async def explain_by_logs(conn: AsyncConnection, *, user_id: int, token_id: int | None, ref: str, quota: int) -> None:
    """Imported consume logs are charges already counted in the opening usage: take them out of it,
    so that the charges in all stay what they were (no balance moves)."""
    opening = usage_records.c.request_id == f"import:{ref}"[:64]
    found = (await conn.execute(select(usage_records).where(opening))).mappings().all()
    if found:
        await conn.execute(update(usage_records).where(opening).values(quota=usage_records.c.quota - quota))
        await add_counts(conn, [(dict(record), {"quota": -quota}) for record in found])
    else:  # no opening usage was written there (it was 0): the correction stands alone
        correction = _record(user_id, token_id, -quota, ref, None).row()
        await conn.execute(insert(usage_records).values(**correction))
        await roll_up(conn, [correction])


def _record(user_id: int, token_id: int | None, quota: int, ref: str, at: int | None) -> UsageRecord:
    return UsageRecord(
        request_id=f"import:{ref}"[:64],
        user_id=user_id,
        token_id=token_id,
        channel_id=None,
        endpoint=ENDPOINT,
        model=MODEL,
        upstream_model="",
        group="",
        prompt_tokens=0,
        cached_tokens=0,
        completion_tokens=0,
        quota=quota,
        latency_ms=0,
        status_code=200,
        stream=False,
        client_ip="",
        created_at=at or now(),
    )
