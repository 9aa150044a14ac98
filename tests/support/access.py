"""A database with one account for tests of the access cache and the ledgers, and a count of its reads."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from relaygate.store.migrate import upgrade_to_head
from relaygate.tokens.service import create_tokens
from relaygate.tokens.spec import TokenSpec
from relaygate.users.service import NewUser, create_user


def count_reads_of(engine: AsyncEngine, table: str) -> list[str]:
    """Every SELECT that reads `table` (alone or joined) the engine runs from now on."""
    seen: list[str] = []
    reads = re.compile(rf"\b(FROM|JOIN) {table}\b")

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and reads.search(statement):
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    return seen


async def account(engine: AsyncEngine) -> tuple[int, int, str]:
    """(user id, token id, key): a migrated database with alice, 10,000 units, and her token (quota 5,000)."""
    await upgrade_to_head(engine)
    async with engine.begin() as conn:
        user = await create_user(conn, NewUser(name="alice", password="password-123", balance=10_000))
        [token] = await create_tokens(conn, user["id"], TokenSpec(quota_limit=5_000))
    return user["id"], token["id"], token["key"]
