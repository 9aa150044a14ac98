"""Where a token and its owner stand: balance and usage, for clients that ask what is left.

Read with one query from the database, so it is as of the ledger's last flush (at most
`RELAYGATE_FLUSH_INTERVAL` behind the relay).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from relaygate.store.schema import tokens, users


@dataclass(frozen=True)
class Standing:
    balance: int  # the owner's, in quota units
    user_used: int  # everything the owner was charged
    token_used: int  # what this token was charged


async def token_standing(engine: AsyncEngine, token_id: int) -> Standing:
    query = (
        select(users.c.balance, users.c.used_quota, tokens.c.used_quota.label("token_used"))
        .select_from(tokens.join(users, tokens.c.user_id == users.c.id))
        .where(tokens.c.id == token_id)
    )
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        return Standing(0, 0, 0)
    return Standing(balance=int(row.balance), user_used=int(row.used_quota), token_used=int(row.token_used))
