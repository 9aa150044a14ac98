"""`/api/audit` (admin): management actions, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from relaygate.api.caller import AdminDep
from relaygate.api.numbers import INT64_MAX
from relaygate.api.pages import Page, PagingDep
from relaygate.audit.service import list_actions

router = APIRouter(tags=["audit"])


class AuditEntry(BaseModel):
    id: int
    actor_id: int | None
    actor_name: str
    action: str
    target: str
    detail: dict[str, Any]
    ip: str
    created_at: datetime


@router.get("/audit", response_model=Page[AuditEntry])
async def audit_log(
    caller: AdminDep,
    paging: PagingDep,
    user_id: Annotated[int | None, Query(ge=1, le=INT64_MAX, description="only this user's actions")] = None,
    action: Annotated[str | None, Query(max_length=64, description="an action or its prefix, e.g. token.")] = None,
) -> dict[str, Any]:
    async with caller.transaction() as conn:
        items, total = await list_actions(
            conn, actor_id=user_id, action=action, page=paging.page, per_page=paging.per_page
        )
    return {"items": items, "total": total, "page": paging.page, "per_page": paging.per_page}
