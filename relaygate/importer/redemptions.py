"""Unused redemption codes (key, quota, expiry), so that codes already sold still redeem, once."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.clock import now
from relaygate.importer.context import ImportContext, is_deleted
from relaygate.redemptions.service import import_code

ENABLED, DISABLED, USED = 1, 2, 3


async def import_redemptions(conn: AsyncConnection, ctx: ImportContext) -> None:
    part = ctx.part("redemptions")
    for row in ctx.progress.each("redemptions", ctx.source.rows("redemptions")):
        source_id = row["id"]
        if ctx.map.get("code", source_id) is not None:
            part.already += 1
            continue
        status = int(row.get("status") or ENABLED)
        expired_time = int(row.get("expired_time") or 0)  # new-api only; 0: never
        code = str(row.get("key") or "").strip()
        if is_deleted(row):
            reason = "deleted in the source"
        elif status == USED:
            reason = "already redeemed"
        elif status != ENABLED:
            reason = "disabled in the source"
        elif expired_time and expired_time <= now():
            reason = "expired"
        elif not code:
            reason = "it has no code"
        else:
            reason = ""
        if reason:
            part.skip(source_id, reason)
            continue
        created = await import_code(
            conn, code, int(row.get("quota") or 0), expires_at=expired_time or None, created_by=None
        )
        if created is None:
            part.skip(source_id, "the code is already a relaygate code")
            continue
        await ctx.map.remember(conn, "code", source_id, created["id"])
        part.imported += 1
