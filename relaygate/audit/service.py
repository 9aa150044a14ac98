"""Audit entries are written in the transaction of the change they describe, so neither exists alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement

from relaygate.clock import now
from relaygate.store.schema import audit_log


@dataclass(frozen=True)
class Actor:
    """Who acts: a user (None for an anonymous attempt such as a failed login) and their address."""

    user_id: int | None
    name: str
    ip: str


async def record_action(
    conn: AsyncConnection, actor: Actor, action: str, target: str = "", detail: dict[str, Any] | None = None
) -> None:
    """Note `action` (e.g. `token.create`) on `target` (e.g. `token:12`). `detail` must hold no secret."""
    await conn.execute(
        insert(audit_log).values(
            actor_id=actor.user_id,
            actor_name=actor.name,
            action=action,
            target=target,
            detail=detail or {},
            ip=actor.ip,
            created_at=now(),
        )
    )


async def list_actions(
    conn: AsyncConnection,
    *,
    actor_id: int | None = None,
    action: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[dict[str, Any]], int]:
    """Newest first, optionally only one actor's or one kind of action (a prefix such as `token.`)."""
    conditions: list[ColumnElement[bool]] = []
    if actor_id is not None:
        conditions.append(audit_log.c.actor_id == actor_id)
    if action:
        conditions.append(audit_log.c.action.startswith(action, autoescape=True))
    total = (await conn.execute(select(func.count()).select_from(audit_log).where(*conditions))).scalar_one()
    query = (
        select(audit_log)
        .where(*conditions)
        .order_by(audit_log.c.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    rows = (await conn.execute(query)).mappings().all()
    return [dict(row) for row in rows], int(total)
