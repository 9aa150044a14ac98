"""`/api/prices` and `/api/groups`: everyone reads, admins write. The relay reloads both on every change."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from relaygate.api.caller import AdminDep, CallerDep
from relaygate.api.numbers import ModelName, PathName
from relaygate.billing import groups as group_service
from relaygate.billing.default_prices import default_price_table, load_default_prices
from relaygate.billing.prices import PriceBook, delete_price, list_groups, list_prices, set_price
from relaygate.catalog.price_list import unpriced_models
from relaygate.channels.service import list_channels

router = APIRouter(tags=["prices and groups"])

Usd = Decimal | None


class PriceOut(BaseModel):
    model: str
    input: str | None = Field(description="USD per 1M input tokens")
    cached_input: str | None = Field(description="USD per 1M cached input tokens (null: the input price)")
    output: str | None = Field(description="USD per 1M output tokens")
    per_call: str | None = Field(description="USD per call (images, tasks)")
    audio_input: str | None = Field(default=None, description="USD per 1M audio input tokens (null: the input price)")
    audio_output: str | None = Field(
        default=None, description="USD per 1M audio output tokens (null: the output price)"
    )
    cache_write_5m: str | None = Field(
        default=None, description="USD per 1M prompt tokens written to a 5-minute cache (null: 1.25 x input)"
    )
    cache_write_1h: str | None = Field(
        default=None, description="USD per 1M prompt tokens written to a 1-hour cache (null: 2 x input)"
    )
    max_output_tokens: int | None = Field(
        default=None, description="the most output tokens the model writes in one answer (null: not known)"
    )


class PriceList(BaseModel):
    items: list[PriceOut]
    unpriced_models: list[str] = Field(
        default_factory=list,
        description="admins: models a channel serves that have no price, so requests for them get 503",
    )


class PriceSet(BaseModel):
    """USD amounts as numbers or decimal strings; at least one."""

    model_config = ConfigDict(extra="forbid")
    input: Usd = Field(default=None, ge=0)
    cached_input: Usd = Field(default=None, ge=0)
    output: Usd = Field(default=None, ge=0)
    per_call: Usd = Field(default=None, ge=0)
    audio_input: Usd = Field(default=None, ge=0)
    audio_output: Usd = Field(default=None, ge=0)
    cache_write_5m: Usd = Field(default=None, ge=0)
    cache_write_1h: Usd = Field(default=None, ge=0)
    max_output_tokens: int | None = Field(
        default=None, ge=1, le=10_000_000, description="requests go upstream with no larger output limit"
    )


class DefaultsLoad(BaseModel):
    model_config = ConfigDict(extra="forbid")
    replace: bool = Field(default=False, description="also overwrite the models that already have a price")


class DefaultsLoaded(BaseModel):
    as_of: str = Field(description="when the list prices shipped with relaygate were published")
    items: list[PriceOut] = Field(description="the prices set (models already priced are left alone without replace)")


class GroupOut(BaseModel):
    name: str
    multiplier: str = Field(description="prices are multiplied by this for the group's users and tokens")
    description: str
    selectable: bool = Field(default=False, description="any user may give a token this group (or `auto`)")
    sort_order: int = Field(default=0, description="the order in which a token set to `auto` tries selectable groups")


class GroupList(BaseModel):
    items: list[GroupOut]


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    multiplier: Decimal = Field(default=Decimal(1), ge=0)
    description: str = Field(default="", max_length=255)
    selectable: bool = False
    sort_order: int = Field(default=0, ge=-1_000_000, le=1_000_000)


class GroupPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    multiplier: Decimal | None = Field(default=None, ge=0)
    description: str | None = Field(default=None, max_length=255)
    selectable: bool | None = None
    sort_order: int | None = Field(default=None, ge=-1_000_000, le=1_000_000)


@router.get("/prices", response_model=PriceList)
async def get_prices(caller: CallerDep) -> dict[str, Any]:
    async with caller.transaction() as conn:
        items = await list_prices(conn)
        served = [model for channel in await list_channels(conn) for model in channel["models"]]
    # Checked against the prices just read, not the relay's copy: the change feed refreshes that up to a
    # poll later, and a model priced a moment ago must not still show as unpriced.
    listed = PriceBook()
    listed.load(items, [])
    unpriced = unpriced_models(listed, served) if caller.is_admin else []
    return {"items": items, "unpriced_models": unpriced}


@router.post("/prices/load-defaults", response_model=DefaultsLoaded)
async def load_defaults(caller: AdminDep, body: DefaultsLoad | None = None) -> dict[str, Any]:
    """`relaygate price load-defaults`: price current OpenAI, Anthropic and Gemini models from the list prices
    shipped with relaygate; check them before use."""
    replace = body.replace if body else False
    async with caller.transaction() as conn:
        loaded = await load_default_prices(conn, replace=replace)
        await caller.audit(conn, "price.load_defaults", "", count=len(loaded), replace=replace)
    as_of, _ = default_price_table()
    return {"as_of": as_of, "items": loaded}


@router.put("/prices/{model:path}", response_model=PriceOut)
async def put_price(model: ModelName, body: PriceSet, caller: AdminDep) -> dict[str, Any]:
    values = {
        name: None if value is None else str(value)
        for name, value in body.model_dump(exclude={"max_output_tokens"}).items()
    }
    async with caller.transaction() as conn:
        price = await set_price(conn, model, values, body.max_output_tokens)
        await caller.audit(conn, "price.set", f"price:{model}"[:160], **price)
    return price


@router.delete("/prices/{model:path}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_price(model: ModelName, caller: AdminDep) -> None:
    async with caller.transaction() as conn:
        await delete_price(conn, model)
        await caller.audit(conn, "price.delete", f"price:{model}"[:160])


@router.get("/groups", response_model=GroupList)
async def get_groups(caller: CallerDep) -> dict[str, Any]:
    async with caller.transaction() as conn:
        return {"items": await list_groups(conn)}


@router.post("/groups", response_model=GroupOut, status_code=status.HTTP_201_CREATED)
async def create_group(body: GroupCreate, caller: AdminDep) -> dict[str, Any]:
    async with caller.transaction() as conn:
        group = await group_service.create_group(
            conn, body.name, body.multiplier, body.description, selectable=body.selectable, sort_order=body.sort_order
        )
        await caller.audit(conn, "group.create", f"group:{body.name}", multiplier=group["multiplier"])
    return group


@router.patch("/groups/{name}", response_model=GroupOut)
async def update_group(name: PathName, body: GroupPatch, caller: AdminDep) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True)
    async with caller.transaction() as conn:
        group = await group_service.update_group(conn, name, changes)
        await caller.audit(conn, "group.update", f"group:{name}", **{k: str(v) for k, v in changes.items()})
    return group


@router.delete("/groups/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_group(name: PathName, caller: AdminDep) -> None:
    async with caller.transaction() as conn:
        await group_service.delete_group(conn, name)
        await caller.audit(conn, "group.delete", f"group:{name}")
