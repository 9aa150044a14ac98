"""The books (SPEC section 5): for every account, credits = balance + charges; for every token,
used quota + quota cleared by periodic resets = the sum of its charges (usage records, and the
daily totals that retention folded older records into). Run against the database, after the ledger
has flushed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Subquery, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.store.schema import ledger_entries, tokens, usage_daily, usage_records, users


def _charges_by(owner: str) -> Subquery:
    """Charges per user or token: the usage records, and the daily totals older records were folded into."""
    both = union_all(
        select(usage_records.c[owner].label("owner"), usage_records.c.quota),
        select(usage_daily.c[owner].label("owner"), usage_daily.c.quota),
    ).subquery()
    return select(both.c.owner, func.sum(both.c.quota).label("charges")).group_by(both.c.owner).subquery()


async def check_books(conn: AsyncConnection) -> dict[str, Any]:
    """`{balanced, accounts, tokens}`, listing every account or token that does not balance."""
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
        }
        for row in account_rows
        if int(row.credits) != row.balance + int(row.charges) or row.used_quota != int(row.charges)
    ]
    bad_tokens = [
        {"id": row.id, "used_quota": row.used_quota, "quota_cleared": row.quota_cleared, "charges": int(row.charges)}
        for row in token_rows
        if row.used_quota + row.quota_cleared != int(row.charges)
    ]
    return {"balanced": not accounts and not bad_tokens, "accounts": accounts, "tokens": bad_tokens}
