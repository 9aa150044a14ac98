"""The books (SPEC section 5): for every account, credits = balance + charges; for every token,
used quota + quota cleared by periodic resets = the sum of its charges; no balance below zero and
no token's used quota above its limit. Upstream overruns (usage a channel reported beyond the hold
it was given, never billed) are listed per channel beside. Run against the database, after the
ledger has flushed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.store.schema import channels, ledger_entries, tokens, usage_records, users


async def check_books(conn: AsyncConnection) -> dict[str, Any]:
    """`{balanced, accounts, tokens, overruns}`, listing every account or token that does not balance."""
    credits = (
        select(ledger_entries.c.user_id, func.sum(ledger_entries.c.amount).label("credits"))
        .group_by(ledger_entries.c.user_id)
        .subquery()
    )
    user_charges = (
        select(usage_records.c.user_id, func.sum(usage_records.c.quota).label("charges"))
        .group_by(usage_records.c.user_id)
        .subquery()
    )
    account_rows = (
        await conn.execute(
            select(
                users.c.id,
                users.c.name,
                users.c.balance,
                users.c.used_quota,
                func.coalesce(credits.c.credits, 0).label("credits"),
                func.coalesce(user_charges.c.charges, 0).label("charges"),
            )
            .outerjoin(credits, credits.c.user_id == users.c.id)
            .outerjoin(user_charges, user_charges.c.user_id == users.c.id)
        )
    ).all()
    token_charges = (
        select(usage_records.c.token_id, func.sum(usage_records.c.quota).label("charges"))
        .group_by(usage_records.c.token_id)
        .subquery()
    )
    token_rows = (
        await conn.execute(
            select(
                tokens.c.id,
                tokens.c.used_quota,
                tokens.c.quota_cleared,
                tokens.c.unlimited,
                tokens.c.quota_limit,
                func.coalesce(token_charges.c.charges, 0).label("charges"),
            ).outerjoin(token_charges, token_charges.c.token_id == tokens.c.id)
        )
    ).all()
    accounts = [
        {
            "id": row.id,
            "name": row.name,
            "credits": int(row.credits),
            "balance": row.balance,
            "charges": int(row.charges),
            "problem": "below_zero" if row.balance < 0 else "unbalanced",
        }
        for row in account_rows
        if int(row.credits) != row.balance + int(row.charges) or row.used_quota != int(row.charges) or row.balance < 0
    ]
    bad_tokens = [
        {
            "id": row.id,
            "used_quota": row.used_quota,
            "quota_cleared": row.quota_cleared,
            "charges": int(row.charges),
            "problem": "unbalanced" if row.used_quota + row.quota_cleared != int(row.charges) else "over_limit",
        }
        for row in token_rows
        if row.used_quota + row.quota_cleared != int(row.charges) or _over_limit(row)
    ]
    return {
        "balanced": not accounts and not bad_tokens,
        "accounts": accounts,
        "tokens": bad_tokens,
        "overruns": await upstream_overruns(conn),
    }


def _over_limit(row: Any) -> bool:
    return not row.unlimited and row.used_quota > row.quota_limit


async def upstream_overruns(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Per channel: how many answers reported usage beyond their hold, and what it was worth unbilled."""
    rows = (
        await conn.execute(
            select(
                usage_records.c.channel_id,
                channels.c.name,
                func.count().label("requests"),
                func.sum(usage_records.c.overrun).label("quota"),
            )
            .outerjoin(channels, channels.c.id == usage_records.c.channel_id)
            .where(usage_records.c.overrun > 0)
            .group_by(usage_records.c.channel_id, channels.c.name)
            .order_by(usage_records.c.channel_id)
        )
    ).all()
    return [
        {"channel_id": row.channel_id, "channel": row.name, "requests": int(row.requests), "quota": int(row.quota)}
        for row in rows
    ]
