"""`/api/tokens`: the caller's own relay tokens. Another user's token is a 404, whoever asks.

Every change goes through `tokens.service`, which puts it on the change feed: a running relay
sees a disable, delete or rotate within its poll interval (0.25 s by default).

A token with `reset` (daily, weekly, monthly) has its `used_quota` cleared at midnight in the
operator's time zone (`RELAYGATE_TIMEZONE`): every day, every Monday, or on the 1st of each month.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.api.caller import Caller, CallerDep
from relaygate.api.numbers import INT32_MAX, INT64_MAX, IdPath
from relaygate.api.pages import Page, PagingDep
from relaygate.billing.groups import check_token_group
from relaygate.clock import unix_seconds
from relaygate.errors import InvalidValue
from relaygate.tokens import service
from relaygate.tokens.resets import next_reset_at
from relaygate.tokens.sealing import reveal_key as reveal_key_once
from relaygate.tokens.spec import TokenSpec

router = APIRouter(prefix="/tokens", tags=["tokens"])

Reset = Literal["daily", "weekly", "monthly"]
Status = Literal["enabled", "disabled"]


class TokenOut(BaseModel):
    id: int
    name: str
    hint: str
    status: str
    expires_at: datetime | None
    unlimited: bool
    quota_limit: int | None = Field(description="quota units; null when unlimited")
    used_quota: int
    models: list[str]
    allow_ips: list[str]
    group: str | None
    rpm: int | None
    tpm: int | None
    max_concurrent: int | None
    reset: str | None = Field(
        description="daily, weekly or monthly: used_quota is cleared at midnight in the operator's time zone (RELAYGATE_TIMEZONE); null: never"
    )
    last_reset_at: datetime | None = Field(description="the period start of the last reset; null if never reset")
    next_reset_at: datetime | None = Field(
        description="the next reset (midnight in the operator's time zone); null without a reset period"
    )
    created_at: datetime
    last_used_at: datetime | None
    revealable: bool = Field(
        description="the full key is still sealed: POST /api/tokens/{id}/reveal returns it, once (RELAYGATE_KEY_REVEAL_HOURS)"
    )


class NewToken(TokenOut):
    key: str = Field(description="the full key, returned this once")


class RevealedKey(BaseModel):
    id: int
    hint: str
    key: str = Field(description="the full key; it cannot be revealed again")


class NewTokens(BaseModel):
    items: list[NewToken]


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="", max_length=128)
    count: int = Field(default=1, ge=1, le=service.MAX_BATCH, description="create this many with these settings")
    expires_at: datetime | None = Field(default=None, description="ISO-8601; never when null")
    quota_limit: int | None = Field(default=None, ge=0, le=INT64_MAX, description="quota units; unlimited when null")
    unlimited: bool | None = None
    models: list[str] = Field(default_factory=list, description="allowed models; all when empty")
    allow_ips: list[str] = Field(default_factory=list, description="IPs and CIDRs; any when empty")
    group: str | None = None
    rpm: int | None = Field(default=None, ge=1, le=INT32_MAX)
    tpm: int | None = Field(default=None, ge=1, le=INT32_MAX)
    max_concurrent: int | None = Field(default=None, ge=1, le=INT32_MAX)
    reset: Reset | None = Field(
        default=None,
        description="clear used_quota daily, weekly (Monday) or monthly (the 1st) at midnight in the operator's time zone",
    )


class TokenPatch(BaseModel):
    """Only the fields sent change; null clears a limit (quota_limit null: unlimited)."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=128)
    status: Status | None = None
    expires_at: datetime | None = None
    quota_limit: int | None = Field(default=None, ge=0, le=INT64_MAX)
    unlimited: bool | None = None
    models: list[str] | None = None
    allow_ips: list[str] | None = None
    group: str | None = None
    rpm: int | None = Field(default=None, ge=1, le=INT32_MAX)
    tpm: int | None = Field(default=None, ge=1, le=INT32_MAX)
    max_concurrent: int | None = Field(default=None, ge=1, le=INT32_MAX)
    reset: Reset | None = None


@router.get("", response_model=Page[TokenOut])
async def list_tokens(
    caller: CallerDep,
    paging: PagingDep,
    q: Annotated[str, Query(max_length=128, description="part of the name or hint")] = "",
    status: Status | None = None,
) -> dict[str, Any]:
    async with caller.transaction() as conn:
        items, total = await service.search_tokens(
            conn, caller.id, q=q, status=status, page=paging.page, per_page=paging.per_page
        )
    shown = [_with_next_reset(token, caller) for token in items]
    return {"items": shown, "total": total, "page": paging.page, "per_page": paging.per_page}


@router.post("", response_model=NewTokens, status_code=status.HTTP_201_CREATED)
async def create_tokens(body: TokenCreate, caller: CallerDep) -> dict[str, Any]:
    if body.unlimited and body.quota_limit is not None:
        raise InvalidValue("give a quota_limit or unlimited: true, not both", field="unlimited")
    spec = TokenSpec(
        name=body.name,
        expires_at=unix_seconds(body.expires_at),
        unlimited=body.quota_limit is None,
        quota_limit=body.quota_limit or 0,
        models=tuple(body.models),
        allow_ips=tuple(body.allow_ips),
        group=body.group,
        rpm=body.rpm,
        tpm=body.tpm,
        max_concurrent=body.max_concurrent,
        reset_period=body.reset,
    )
    async with caller.transaction() as conn:
        await _check_group(conn, caller, body.group)
        created = await service.create_tokens(conn, caller.id, spec, body.count, seal=caller.rt.key_seal)
        ids = [token["id"] for token in created]
        await caller.audit(conn, "token.create", ",".join(f"token:{i}" for i in ids)[:160], count=body.count)
    return {"items": [_with_next_reset(token, caller) for token in created]}


@router.get("/{token_id}", response_model=TokenOut)
async def get_token(token_id: IdPath, caller: CallerDep) -> dict[str, Any]:
    async with caller.transaction() as conn:
        return _with_next_reset(await service.get_token(conn, token_id, user_id=caller.id), caller)


@router.patch("/{token_id}", response_model=TokenOut)
async def update_token(token_id: IdPath, body: TokenPatch, caller: CallerDep) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    for name in ("name", "status", "unlimited", "models", "allow_ips"):
        if name in changes and changes[name] is None:
            raise InvalidValue(f"{name} cannot be null", field=name)
    if "expires_at" in changes:
        changes["expires_at"] = unix_seconds(changes["expires_at"])
    async with caller.transaction() as conn:
        if "group" in changes:
            await _check_group(conn, caller, changes["group"])
        token = await service.update_token(conn, token_id, changes, user_id=caller.id)
        await caller.audit(conn, "token.update", f"token:{token_id}", fields=sorted(changes))
    return _with_next_reset(token, caller)


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_token(token_id: IdPath, caller: CallerDep) -> None:
    async with caller.transaction() as conn:
        await service.revoke_token(conn, token_id, user_id=caller.id)
        await caller.audit(conn, "token.delete", f"token:{token_id}")


@router.post("/{token_id}/enable", response_model=TokenOut)
async def enable_token(token_id: IdPath, caller: CallerDep) -> dict[str, Any]:
    return await _set_status(caller, token_id, "enabled")


@router.post("/{token_id}/disable", response_model=TokenOut)
async def disable_token(token_id: IdPath, caller: CallerDep) -> dict[str, Any]:
    return await _set_status(caller, token_id, "disabled")


@router.post("/{token_id}/rotate", response_model=NewToken)
async def rotate_token(token_id: IdPath, caller: CallerDep) -> dict[str, Any]:
    """A new key with the same settings; the old key stops working at once."""
    async with caller.transaction() as conn:
        token = await service.rotate_token(conn, token_id, user_id=caller.id, seal=caller.rt.key_seal)
        await caller.audit(conn, "token.rotate", f"token:{token_id}")
    return _with_next_reset(token, caller)


@router.post("/{token_id}/reveal", response_model=RevealedKey)
async def reveal_key(token_id: IdPath, caller: CallerDep) -> dict[str, Any]:
    """The full key of a new or rotated token, once, within RELAYGATE_KEY_REVEAL_HOURS; then 410 key_not_available."""
    async with caller.transaction() as conn:
        revealed = await reveal_key_once(conn, token_id, caller.id, caller.rt.key_seal)
        await caller.audit(conn, "token.reveal", f"token:{token_id}")
    return revealed


async def _set_status(caller: Caller, token_id: int, status: str) -> dict[str, Any]:
    async with caller.transaction() as conn:
        await service.set_token_status(conn, token_id, status, user_id=caller.id)
        await caller.audit(conn, f"token.{status.removesuffix('d')}", f"token:{token_id}")
        return _with_next_reset(await service.get_token(conn, token_id), caller)


def _with_next_reset(token: dict[str, Any], caller: Caller) -> dict[str, Any]:
    return {**token, "next_reset_at": next_reset_at(token, caller.rt.settings.zone)}


async def _check_group(conn: AsyncConnection, caller: Caller, group: str | None) -> None:
    """A user's token may name their own group, a selectable one or `auto` (never a cheaper tier they were not given)."""
    await check_token_group(conn, group, caller.user["group"], admin=caller.is_admin)
