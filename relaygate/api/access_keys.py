"""`/api/access-keys`: the caller's own management keys (`ak-...`), each shown once at creation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from relaygate.accounts import access_keys as service
from relaygate.api.caller import CallerDep
from relaygate.api.numbers import IdPath

router = APIRouter(prefix="/access-keys", tags=["access keys"])


class AccessKeyOut(BaseModel):
    id: int
    name: str
    hint: str
    created_at: datetime
    last_used_at: datetime | None


class NewAccessKey(AccessKeyOut):
    key: str = Field(description="the full key, returned this once")


class AccessKeyList(BaseModel):
    items: list[AccessKeyOut]


class AccessKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="", max_length=128)


@router.get("", response_model=AccessKeyList)
async def list_access_keys(caller: CallerDep) -> dict[str, Any]:
    async with caller.transaction() as conn:
        return {"items": await service.list_access_keys(conn, caller.id)}


@router.post("", response_model=NewAccessKey, status_code=status.HTTP_201_CREATED)
async def create_access_key(body: AccessKeyCreate, caller: CallerDep) -> dict[str, Any]:
    async with caller.transaction() as conn:
        created = await service.create_access_key(conn, caller.id, body.name)
        await caller.audit(conn, "access_key.create", f"access_key:{created['id']}", name=body.name)
    return created


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_access_key(key_id: IdPath, caller: CallerDep) -> None:
    async with caller.transaction() as conn:
        await service.revoke_access_key(conn, key_id, user_id=caller.id)
        await caller.audit(conn, "access_key.revoke", f"access_key:{key_id}")
