"""The usage records a running gateway wrote, read straight from its database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.store.schema import usage_records
from tests.support.deployment import Deployment


def records(gw: Deployment, token_id: int | None = None) -> list[dict[str, Any]]:
    """Every usage record (of one token, when given), oldest first, after the server wrote its pending ones."""

    async def read(conn: AsyncConnection) -> list[dict[str, Any]]:
        query = select(usage_records).order_by(usage_records.c.id)
        if token_id is not None:
            query = query.where(usage_records.c.token_id == token_id)
        rows = await conn.execute(query)
        return [dict(row) for row in rows.mappings()]

    gw.flush()
    return gw.db(read)
