"""The books (SPEC section 5): for every account, credits = balance + charges; for every token,
used quota + quota cleared by periodic resets = the sum of its charges (the all-time rollups of its
usage records, written in the records' own transactions: `relaygate.usage.rollups`, which also keep
the charges of records retention has folded away); no balance below zero and no token's used
quota above its limit. Upstream overruns (usage a channel reported beyond the hold it was given,
never billed) are listed per channel beside. Run against the database, after the ledger has flushed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Subquery, and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.store.schema import channels, ledger_entries, tokens, usage_rollups, users
from relaygate.usage.rollups import ALL_TIME


def _charges_by(owner: str) -> Subquery:
    """Charges per user or token, from the all-time rollups."""
    table = usage_rollups
    return (
        select(table.c[owner].label("owner"), func.sum(table.c.quota).label("charges"))
        .where(table.c.span == ALL_TIME)
        .group_by(table.c[owner])
        .subquery()
    )


async def check_books(conn: AsyncConnection) -> dict[str, Any]:
    """`{balanced, accounts, tokens, overruns}`, listing every account or token that does not balance."""
    credits = (
        select(ledger_entries.c.user_id, func.sum(ledger_entries.c.amount).label("credits"))
        .group_by(ledger_entries.c.user_id)
        .subquery()
    )
    user_charges = _charges_by("user_id")
    credited, charged = func.coalesce(credits.c.credits, 0), func.coalesce(user_charges.c.charges, 0)
    # Only the accounts and tokens that break a rule come back from the database.
    account_rows = (
        await conn.execute(
            select(users.c.id, users.c.name, users.c.balance, credited.label("credits"), charged.label("charges"))
            .outerjoin(credits, credits.c.user_id == users.c.id)
            .outerjoin(user_charges, user_charges.c.owner == users.c.id)
            .where(or_(credited != users.c.balance + charged, users.c.used_quota != charged, users.c.balance < 0))
        )
    ).all()
    token_charges = _charges_by("token_id")
    token_charged = func.coalesce(token_charges.c.charges, 0)
    token_rows = (
        await conn.execute(
            select(tokens.c.id, tokens.c.used_quota, tokens.c.quota_cleared, token_charged.label("charges"))
            .outerjoin(token_charges, token_charges.c.owner == tokens.c.id)
            .where(
                or_(
                    tokens.c.used_quota + tokens.c.quota_cleared != token_charged,
                    and_(tokens.c.unlimited == false(), tokens.c.used_quota > tokens.c.quota_limit),
                )
            )
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
    ]
    return {
        "balanced": not accounts and not bad_tokens,
        "accounts": accounts,
        "tokens": bad_tokens,
        "overruns": await upstream_overruns(conn),
    }


async def upstream_overruns(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Per channel: how many answers reported usage beyond their hold, and what it was worth unbilled."""
    table = usage_rollups
    channel_id = func.nullif(table.c.channel_id, 0)
    rows = (
        await conn.execute(
            select(
                channel_id.label("channel_id"),
                channels.c.name,
                func.sum(table.c.overruns).label("requests"),
                func.sum(table.c.overrun).label("quota"),
            )
            .outerjoin(channels, channels.c.id == table.c.channel_id)
            .where(table.c.span == ALL_TIME, table.c.overrun > 0)
            .group_by(channel_id, channels.c.name)
            .order_by(channel_id)
        )
    ).all()
    return [
        {"channel_id": row.channel_id, "channel": row.name, "requests": int(row.requests), "quota": int(row.quota)}
        for row in rows
    ]
