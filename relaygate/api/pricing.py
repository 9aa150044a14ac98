"""`GET /api/pricing`: the customer's price list, for logged-in users (anyone with RELAYGATE_PUBLIC_PRICING)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from relaygate.api.caller import Caller, IpDep, RuntimeDep, authenticate
from relaygate.catalog.price_list import ANONYMOUS_GROUP, price_list, reachable_groups
from relaygate.errors import Unauthenticated

router = APIRouter(tags=["prices and groups"])


class PricingItem(BaseModel):
    model: str
    group: str = Field(description="the group these prices are for")
    multiplier: str = Field(description="the group's multiplier, already applied to every price here")
    input: str | None = Field(description="USD per 1M input tokens")
    cached_input: str | None = Field(description="USD per 1M cached input tokens (null: the input price)")
    output: str | None = Field(description="USD per 1M output tokens")
    per_call: str | None = Field(description="USD per call (images, tasks)")
    audio_input: str | None = Field(description="USD per 1M audio input tokens (null: the input price)")
    audio_output: str | None = Field(description="USD per 1M audio output tokens (null: the output price)")


class Pricing(BaseModel):
    groups: list[str] = Field(description="the groups the caller reaches")
    items: list[PricingItem]


async def pricing_caller(request: Request, rt: RuntimeDep, ip: IpDep) -> Caller | None:
    """The logged-in caller; None for a caller without credentials when pricing is public."""
    try:
        return await authenticate(request, rt, ip)
    except Unauthenticated:
        if rt.settings.public_pricing and "authorization" not in request.headers:
            return None
        raise


@router.get("/pricing", response_model=Pricing)
async def get_pricing(caller: Annotated[Caller | None, Depends(pricing_caller)], rt: RuntimeDep) -> dict[str, Any]:
    """Every model the caller's groups can be served, with its prices after each group's multiplier."""
    groups = reachable_groups(str(caller.user["group"]) if caller else ANONYMOUS_GROUP, rt.prices.auto_order())
    return {"groups": groups, "items": price_list(rt.channels, rt.prices, groups)}
