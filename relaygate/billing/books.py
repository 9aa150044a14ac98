"""The books (SPEC section 5): for every account, credits = balance + charges; for every token,
used quota + quota cleared by periodic resets = the sum of its charges (usage records, and the
daily totals that retention folded older records into); no balance below zero and no token's used
quota above its limit. Upstream overruns (usage a channel reported beyond the hold it was given,
never billed) are listed per channel beside. Run against the database, after the ledger has flushed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Subquery, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.store.schema import channels, ledger_entries, tokens, usage_daily, usage_records, users


def _charges_by(owner: str) -> Subquery:
    """Charges per user or token: the usage records, and the daily totals older records were folded into."""
    both = union_all(
        select(usage_records.c[owner].label("owner"), usage_records.c.quota),
        select(usage_daily.c[owner].label("owner"), usage_daily.c.quota),
    ).subquery()
    return select(both.c.owner, func.sum(both.c.quota).label("charges")).group_by(both.c.owner).subquery()


async def check_books(conn: AsyncConnection) -> dict[str, Any]:
    """`{balanced, accounts, tokens, overruns}`, listing every account or token that does not balance."""
    credits = (
        select(ledger_entries.c.user_id, func.sum(ledger_entries.c.amount).label("credits"))
        .group_by(ledger_entries.c.user_id)
        .subquery()
    )
    user_charges = _charges_by("user_id")
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
            .outerjoin(user_charges, user_charges.c.owner == users.c.id)
        )
    ).all()
    token_charges = _charges_by("token_id")
    token_rows = (
        await conn.execute(
            select(
                tokens.c.id,
                tokens.c.used_quota,
                tokens.c.quota_cleared,
                tokens.c.unlimited,
                tokens.c.quota_limit,
                func.coalesce(token_charges.c.charges, 0).label("charges"),
            ).outerjoin(token_charges, token_charges.c.owner == tokens.c.id)
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
    """Per channel: how many answers reported usage beyond their hold, and what it was worth unbilled
    (records, and the daily totals retention folded older records into)."""
    both = union_all(
        select(
            usage_records.c.channel_id, func.count().label("requests"), func.sum(usage_records.c.overrun).label("quota")
        )
        .where(usage_records.c.overrun > 0)
        .group_by(usage_records.c.channel_id),
        select(usage_daily.c.channel_id, usage_daily.c.overruns, usage_daily.c.overrun).where(
            usage_daily.c.overrun > 0
        ),
    ).subquery()
    rows = (
        await conn.execute(
            select(
                both.c.channel_id,
                channels.c.name,
                func.sum(both.c.requests).label("requests"),
                func.sum(both.c.quota).label("quota"),
            )
            .outerjoin(channels, channels.c.id == both.c.channel_id)
            .group_by(both.c.channel_id, channels.c.name)
            .order_by(both.c.channel_id)
        )
    ).all()
    return [
        {"channel_id": row.channel_id, "channel": row.name, "requests": int(row.requests), "quota": int(row.quota)}
        for row in rows
    ]
