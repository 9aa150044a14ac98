"""`/api/channels` (admin): upstreams. Keys go in, and only each key's hint and status ever come out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from relaygate.api.caller import AdminDep, Caller
from relaygate.api.numbers import INT32_MAX, IdPath
from relaygate.api.pages import Page, PagingDep
from relaygate.catalog.price_list import unpriced_models
from relaygate.channels import service
from relaygate.relay.model_discovery import discover_models
from relaygate.relay.probe import probe_channel

router = APIRouter(prefix="/channels", tags=["channels"])

ChannelType = Literal["openai", "azure", "anthropic", "gemini", "midjourney", "suno"]


ChannelStatus = Literal["enabled", "disabled", "auto_disabled"]
CostPrices = dict[str, dict[Literal["input", "cached_input", "output", "per_call"], str]]
CHAT_COMPLETIONS_ONLY = (
    "an OpenAI-compatible upstream with /v1/chat/completions but no /v1/responses: Responses requests for its "
    "models are converted to chat completions, streaming included (openai and azure channels only)"
)


class KeyOut(BaseModel):
    id: int
    hint: str = Field(description="the start and end of the key; the key itself is never returned")
    status: ChannelStatus
    disabled_reason: str | None
    disabled_at: datetime | None


class ChannelOut(BaseModel):
    id: int
    name: str
    type: str
    base_url: str
    key_hint: str = Field(description="the first key's hint")
    keys: list[KeyOut]
    models: list[str]
    model_map: dict[str, str]
    groups: list[str]
    priority: int
    weight: int
    status: ChannelStatus = Field(description="auto_disabled: taken out by channel health until a probe passes")
    disabled_reason: str | None
    disabled_at: datetime | None
    last_probe_at: datetime | None
    last_probe_error: str | None
    cost_prices: CostPrices = Field(description="what the upstream charges, USD per 1M tokens or per call")
    chat_completions_only: bool = Field(description=CHAT_COMPLETIONS_ONLY)
    unpriced_models: list[str] = Field(description="served models without a price: requests for them get 503")
    created_at: datetime


Key = Annotated[str, Field(min_length=1, max_length=4096)]


class ChannelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: ChannelType
    base_url: str = Field(max_length=512)
    key: Key | None = Field(default=None, description="one upstream key (or give keys)")
    keys: list[Key] = Field(default_factory=list, max_length=10_000, description="upstream keys, write-only")
    name: str = Field(default="", max_length=128)
    models: list[str] = Field(min_length=1)
    model_map: dict[str, str] = Field(default_factory=dict, description="client model name to upstream name")
    groups: list[str] = Field(default_factory=lambda: ["default"])
    priority: int = Field(default=0, ge=-INT32_MAX, le=INT32_MAX, description="higher tiers are tried first")
    weight: int = Field(default=1, ge=0, le=INT32_MAX, description="share of traffic inside a priority tier")
    cost_prices: CostPrices | None = None
    chat_completions_only: bool = Field(default=False, description=CHAT_COMPLETIONS_ONLY)


class ChannelPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: ChannelType | None = None
    base_url: str | None = Field(default=None, max_length=512)
    key: Key | None = Field(default=None, description="replaces every key of the channel")
    keys: list[Key] | None = Field(default=None, max_length=10_000, description="replace every key of the channel")
    name: str | None = Field(default=None, max_length=128)
    models: list[str] | None = Field(default=None, min_length=1)
    model_map: dict[str, str] | None = None
    groups: list[str] | None = None
    priority: int | None = Field(default=None, ge=-INT32_MAX, le=INT32_MAX)
    weight: int | None = Field(default=None, ge=0, le=INT32_MAX)
    status: Literal["enabled", "disabled"] | None = None
    cost_prices: CostPrices | None = None
    chat_completions_only: bool | None = Field(default=None, description=CHAT_COMPLETIONS_ONLY)


class KeysAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keys: list[Key] = Field(min_length=1, max_length=10_000)


class KeyPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["enabled", "disabled"]


class FetchedModels(BaseModel):
    channel_id: int
    models: list[str] = Field(description="what the upstream lists, in the channel's protocol")
    new: list[str] = Field(description="listed models the channel does not serve yet (PATCH models to add them)")


class ChannelTest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str | None = Field(default=None, description="the model to ask; the channel's first by default")


class ChannelTestResult(BaseModel):
    channel_id: int
    model: str
    ok: bool
    status: int = Field(description="the upstream's HTTP status, or the gateway's when it could not reach it")
    latency_ms: float
    error: str | None


@router.get("", response_model=Page[ChannelOut])
async def list_channels(caller: AdminDep, paging: PagingDep) -> dict[str, Any]:
    async with caller.transaction() as conn:
        everything = await service.list_channels(conn)
    start = (paging.page - 1) * paging.per_page
    items = [_shown(caller, channel) for channel in everything[start : start + paging.per_page]]
    return {"items": items, "total": len(everything), "page": paging.page, "per_page": paging.per_page}


@router.post("", response_model=ChannelOut, status_code=status.HTTP_201_CREATED)
async def create_channel(body: ChannelCreate, caller: AdminDep) -> dict[str, Any]:
    fields = body.model_dump()
    spec = service.NewChannel(
        **{**fields, "key": body.key or "", "keys": tuple(body.keys), "models": tuple(body.models)}
        | {"groups": tuple(body.groups)}
    )
    async with caller.transaction() as conn:
        channel = await service.add_channel(conn, spec, caller.rt.box)
        await caller.audit(conn, "channel.create", f"channel:{channel['id']}", **_described(channel))
    return _shown(caller, channel)


@router.get("/{channel_id}", response_model=ChannelOut)
async def get_channel(channel_id: IdPath, caller: AdminDep) -> dict[str, Any]:
    async with caller.transaction() as conn:
        return _shown(caller, await service.get_channel(conn, channel_id))


@router.patch("/{channel_id}", response_model=ChannelOut)
async def update_channel(channel_id: IdPath, body: ChannelPatch, caller: AdminDep) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True)
    async with caller.transaction() as conn:
        channel = await service.update_channel(conn, channel_id, changes, caller.rt.box)
        await caller.audit(conn, "channel.update", f"channel:{channel_id}", fields=sorted(changes))
    return _shown(caller, channel)


@router.delete("/{channel_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_channel(channel_id: IdPath, caller: AdminDep) -> None:
    async with caller.transaction() as conn:
        await service.delete_channel(conn, channel_id)
        await caller.audit(conn, "channel.delete", f"channel:{channel_id}")


@router.post("/{channel_id}/enable", response_model=ChannelOut)
async def enable_channel(channel_id: IdPath, caller: AdminDep) -> dict[str, Any]:
    return await _set_status(caller, channel_id, "enabled")


@router.post("/{channel_id}/disable", response_model=ChannelOut)
async def disable_channel(channel_id: IdPath, caller: AdminDep) -> dict[str, Any]:
    return await _set_status(caller, channel_id, "disabled")


@router.post("/{channel_id}/test", response_model=ChannelTestResult)
async def run_channel_test(channel_id: IdPath, caller: AdminDep, body: ChannelTest | None = None) -> dict[str, Any]:
    """One tiny real request (`ping`, max_tokens 1) through the channel, enabled or not; not billed."""
    async with caller.transaction() as conn:
        channel = await service.load_channel(conn, channel_id, caller.rt.box)
    result = await probe_channel(channel, caller.rt.settings, body.model if body else None)
    async with caller.transaction() as conn:
        await caller.audit(conn, "channel.test", f"channel:{channel_id}", ok=result["ok"], status=result["status"])
    return result


@router.post("/{channel_id}/keys", response_model=ChannelOut, status_code=status.HTTP_201_CREATED)
async def add_keys(channel_id: int, body: KeysAdd, caller: AdminDep) -> dict[str, Any]:
    async with caller.transaction() as conn:
        channel = await service.add_keys(conn, channel_id, body.keys, caller.rt.box)
        await caller.audit(conn, "channel.keys.add", f"channel:{channel_id}", count=len(body.keys))
    return _shown(caller, channel)


@router.patch("/{channel_id}/keys/{key_id}", response_model=ChannelOut)
async def set_key_status(channel_id: int, key_id: int, body: KeyPatch, caller: AdminDep) -> dict[str, Any]:
    async with caller.transaction() as conn:
        channel = await service.set_key_status(conn, channel_id, key_id, body.status)
        await caller.audit(conn, "channel.keys.update", f"channel:{channel_id}", key_id=key_id, status=body.status)
    return _shown(caller, channel)


@router.delete("/{channel_id}/keys/{key_id}", response_model=ChannelOut)
async def delete_key(channel_id: int, key_id: int, caller: AdminDep) -> dict[str, Any]:
    async with caller.transaction() as conn:
        channel = await service.delete_key(conn, channel_id, key_id)
        await caller.audit(conn, "channel.keys.delete", f"channel:{channel_id}", key_id=key_id)
    return _shown(caller, channel)


@router.post("/{channel_id}/fetch-models", response_model=FetchedModels)
async def fetch_models(channel_id: int, caller: AdminDep) -> dict[str, Any]:
    """The upstream's own model list, read in the channel's protocol; nothing is changed."""
    async with caller.transaction() as conn:
        channel = await service.load_channel(conn, channel_id, caller.rt.box)
    return await discover_models(channel, caller.rt.settings)


async def _set_status(caller: Caller, channel_id: int, status: str) -> dict[str, Any]:
    async with caller.transaction() as conn:
        await service.set_channel_status(conn, channel_id, status)
        await caller.audit(conn, f"channel.{status.removesuffix('d')}", f"channel:{channel_id}")
        return _shown(caller, await service.get_channel(conn, channel_id))


def _shown(caller: Caller, channel: dict[str, Any]) -> dict[str, Any]:
    """A channel with the models it serves that have no price (requests for those are refused)."""
    return channel | {"unpriced_models": unpriced_models(caller.rt.prices, channel["models"])}


def _described(channel: dict[str, Any]) -> dict[str, Any]:
    return {name: channel[name] for name in ("name", "type", "base_url", "models")}
