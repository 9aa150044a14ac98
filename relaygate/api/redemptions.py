"""`/api/redemptions` (admin creates and lists codes) and `/api/redeem` (anyone tops up with one)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from relaygate.api.caller import AdminDep, CallerDep
from relaygate.api.numbers import INT64_MAX
from relaygate.api.pages import Page, PagingDep
from relaygate.redemptions import service
from relaygate.users.service import get_user

router = APIRouter(tags=["redemption codes"])


class CodeOut(BaseModel):
    id: int
    hint: str
    quota: int
    created_at: datetime
    redeemed_by: int | None
    redeemed_at: datetime | None


class NewCode(CodeOut):
    code: str = Field(description="the full code, returned this once")


class NewCodes(BaseModel):
    items: list[NewCode]


class CodesCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(default=1, ge=1, le=service.MAX_BATCH)
    quota: int = Field(ge=0, le=INT64_MAX, description="quota units each code credits (1 USD = 500,000)")


class Redeem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=128)


class Redeemed(BaseModel):
    quota: int = Field(description="quota units credited")
    balance: int = Field(description="the balance after the credit")


@router.post("/redemptions", response_model=NewCodes, status_code=status.HTTP_201_CREATED)
async def create_codes(body: CodesCreate, caller: AdminDep) -> dict[str, Any]:
    async with caller.transaction() as conn:
        created = await service.create_codes(conn, body.count, body.quota, caller.id)
        await caller.audit(conn, "redemption.create", "", count=body.count, quota=body.quota)
    return {"items": created}


@router.get("/redemptions", response_model=Page[CodeOut])
async def list_codes(
    caller: AdminDep, paging: PagingDep, redeemed: Annotated[bool | None, Query()] = None
) -> dict[str, Any]:
    async with caller.transaction() as conn:
        items, total = await service.list_codes(conn, redeemed=redeemed, page=paging.page, per_page=paging.per_page)
    return {"items": items, "total": total, "page": paging.page, "per_page": paging.per_page}


@router.post("/redeem", response_model=Redeemed)
async def redeem(body: Redeem, caller: CallerDep) -> dict[str, Any]:
    """Credit the caller with the code's quota; a code works once, however many try it at the same time."""
    async with caller.transaction() as conn:
        quota = await service.redeem_code(conn, body.code, caller.id)
        await caller.audit(conn, "redemption.redeem", f"user:{caller.id}", quota=quota)
        user = await get_user(conn, caller.id)
    return {"quota": quota, "balance": user["balance"]}
