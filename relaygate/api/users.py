"""`/api/users` (admin) and `/api/books`: accounts, top-ups, and the check that the books balance.

An admin manages users; only root manages admins (creates them, changes or deletes them, or
makes someone one). Nobody deletes, disables or demotes their own account here.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from relaygate.api.caller import AdminDep, Caller
from relaygate.api.numbers import INT32_MAX, INT64_MAX, IdPath
from relaygate.api.pages import Page, PagingDep
from relaygate.billing.books import check_books
from relaygate.billing.groups import ensure_group
from relaygate.billing.money import usd_to_units
from relaygate.errors import ConflictError, Forbidden, InvalidValue
from relaygate.users import service

router = APIRouter(tags=["users"])

Role = Literal["user", "admin", "root"]


class UserOut(BaseModel):
    id: int
    name: str
    role: str
    group: str
    status: str
    balance: int = Field(description="quota units (1 USD = 500,000)")
    used_quota: int
    request_count: int
    rpm: int | None = Field(description="requests per minute over all the user's tokens (null: no limit)")
    tpm: int | None = Field(description="tokens per minute over all the user's tokens (null: no limit)")
    max_concurrent: int | None = Field(description="concurrent requests over all the user's tokens (null: no limit)")
    created_at: datetime


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=1024)
    role: Role = "user"
    group: str = "default"
    balance_usd: Decimal = Field(default=Decimal(0), ge=0)
    rpm: int | None = Field(default=None, ge=1, le=INT32_MAX)
    tpm: int | None = Field(default=None, ge=1, le=INT32_MAX)
    max_concurrent: int | None = Field(default=None, ge=1, le=INT32_MAX)


class UserPatch(BaseModel):
    """Only the fields given change; a rate limit set to null is removed."""

    model_config = ConfigDict(extra="forbid")
    group: str | None = None
    role: Role | None = None
    status: Literal["enabled", "disabled"] | None = None
    rpm: int | None = Field(default=None, ge=1, le=INT32_MAX)
    tpm: int | None = Field(default=None, ge=1, le=INT32_MAX)
    max_concurrent: int | None = Field(default=None, ge=1, le=INT32_MAX)


class TopUp(BaseModel):
    """Exactly one of `quota` (units) or `usd`; negative amounts take back, never below a zero balance."""

    model_config = ConfigDict(extra="forbid")
    quota: int | None = Field(default=None, ge=-INT64_MAX, le=INT64_MAX)
    usd: Decimal | None = None
    reason: str = Field(default="", max_length=255)

    @model_validator(mode="after")
    def _one_amount(self) -> TopUp:
        if (self.quota is None) == (self.usd is None):
            raise ValueError("give exactly one of quota (units) or usd")
        return self


class Overrun(BaseModel):
    channel_id: int | None
    channel: str | None = Field(description="the channel's name (null once it was deleted)")
    requests: int = Field(description="answers whose reported usage went beyond the hold they were given")
    quota: int = Field(description="what that usage beyond the holds was worth, in quota units, never billed")


class Books(BaseModel):
    balanced: bool
    accounts: list[dict[str, Any]] = Field(
        description="accounts whose credits differ from balance + charges, or whose balance is below zero "
        "(`problem`: unbalanced or below_zero)"
    )
    tokens: list[dict[str, Any]] = Field(
        description="tokens whose used quota differs from their charges, or is above their limit "
        "(`problem`: unbalanced or over_limit)"
    )
    overruns: list[Overrun] = Field(description="upstream overruns per channel: usage charged at most the hold")


@router.get("/users", response_model=Page[UserOut])
async def list_users(
    caller: AdminDep, paging: PagingDep, q: Annotated[str, Query(max_length=64)] = "", role: Role | None = None
) -> dict[str, Any]:
    async with caller.transaction() as conn:
        items, total = await service.search_users(conn, q=q, role=role, page=paging.page, per_page=paging.per_page)
    return {"items": items, "total": total, "page": paging.page, "per_page": paging.per_page}


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreate, caller: AdminDep) -> dict[str, Any]:
    _may_grant(caller, body.role)
    balance = usd_to_units(body.balance_usd, field="balance_usd")
    async with caller.transaction() as conn:
        await ensure_group(conn, body.group)
        limits = {name: getattr(body, name) for name in service.LIMITS}
        spec = service.NewUser(body.name, body.password, body.role, body.group, balance, **limits)
        user = await service.create_user(conn, spec)
        await caller.audit(
            conn, "user.create", f"user:{user['id']}", name=body.name, role=body.role, balance=balance, **limits
        )
    return user


@router.get("/users/{user_id}", response_model=UserOut)
async def get_user(user_id: IdPath, caller: AdminDep) -> dict[str, Any]:
    async with caller.transaction() as conn:
        return await service.get_user(conn, user_id)


@router.patch("/users/{user_id}", response_model=UserOut)
async def update_user(user_id: IdPath, body: UserPatch, caller: AdminDep) -> dict[str, Any]:
    given = body.model_dump(exclude_unset=True)
    changes = {name: value for name, value in given.items() if value is not None or name in service.LIMITS}
    async with caller.transaction() as conn:
        target = await service.get_user(conn, user_id)
        _may_manage(caller, target)
        if "role" in changes:
            _may_grant(caller, changes["role"])
        if target["id"] == caller.id and ({"role", "status"} & changes.keys()):
            raise ConflictError("you cannot change your own role or status: ask another administrator")
        if "group" in changes:
            await ensure_group(conn, changes["group"])
        user = await service.update_user(conn, user_id, changes)
        await caller.audit(conn, "user.update", f"user:{user_id}", **changes)
    return user


@router.delete("/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(user_id: IdPath, caller: AdminDep) -> None:
    async with caller.transaction() as conn:
        target = await service.get_user(conn, user_id)
        _may_manage(caller, target)
        if target["id"] == caller.id:
            raise ConflictError("you cannot delete your own account")
        await service.delete_user(conn, user_id)
        await caller.audit(conn, "user.delete", f"user:{user_id}", name=target["name"])


@router.post("/users/{user_id}/topup", response_model=UserOut)
async def top_up(user_id: IdPath, body: TopUp, caller: AdminDep) -> dict[str, Any]:
    amount = body.quota if body.quota is not None else usd_to_units(body.usd or 0, field="usd")
    async with caller.transaction() as conn:
        target = await service.get_user(conn, user_id)
        if target["role"] != "user" and caller.role != "root":
            # an administrator's balance (their own included) is root's to change, never another admin's
            raise Forbidden("Only root tops up or takes back the balance of an administrator or of root.")
        user = await service.top_up(conn, user_id, amount, body.reason or f"top-up by {caller.user['name']}")
        await caller.audit(conn, "user.topup", f"user:{user_id}", quota=amount, reason=body.reason)
    return user


@router.get("/books", response_model=Books)
async def books(caller: AdminDep) -> dict[str, Any]:
    """SPEC section 5, checked for every account and token (records still in memory are not counted yet)."""
    async with caller.transaction() as conn:
        return await check_books(conn)


def _may_manage(caller: Caller, target: dict[str, Any]) -> None:
    if target["role"] != "user" and caller.role != "root" and target["id"] != caller.id:
        raise Forbidden("Only root manages administrators.")


def _may_grant(caller: Caller, role: str) -> None:
    if role == "root":
        raise InvalidValue("there is one root account; give the role user or admin", field="role")
    if role != "user" and caller.role != "root":
        raise Forbidden("Only root makes administrators.")
