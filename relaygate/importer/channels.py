"""Channels: type (their numbers mapped to relaygate's; a type relaygate cannot serve is imported
disabled and reported), base URL (their per-type default when empty), keys (encrypted at rest by the
channel service), models, model mapping, groups, priority, weight and status."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.channels.crypto import SecretBox
from relaygate.channels.service import NewChannel, add_channel, set_channel_status
from relaygate.errors import InvalidValue
from relaygate.importer.channel_types import channel_type
from relaygate.importer.context import ImportContext, split_list
from relaygate.importer.groups_prices import ensure_group

ENABLED, AUTO_DISABLED = 1, 3  # and 2: disabled by hand
# new-api picks among a tier's channels by weight + 10 (its smoothing), so weight 0 still gets
# traffic there; relaygate picks by weight alone, so the smoothing is carried over in the number.
NEW_API_WEIGHT_SMOOTHING = 10


@dataclass(frozen=True)
class ChannelFields:
    """A channel without its keys."""

    type: str
    base_url: str
    name: str
    models: tuple[str, ...]
    model_map: dict[str, str] = field(default_factory=dict)
    groups: tuple[str, ...] = ("default",)
    priority: int = 0
    weight: int = 1


async def create_channel(
    conn: AsyncConnection, fields: ChannelFields, keys: list[str], box: SecretBox
) -> dict[str, Any]:
    """The one place that decides how a channel with these keys is created: one channel holding them all."""
    spec = NewChannel(
        type=fields.type,
        base_url=fields.base_url,
        keys=tuple(keys),
        name=fields.name,
        models=fields.models,
        model_map=fields.model_map,
        groups=fields.groups,
        priority=fields.priority,
        weight=fields.weight,
    )
    return await add_channel(conn, spec, box)


async def import_channels(conn: AsyncConnection, ctx: ImportContext) -> None:
    part = ctx.part("channels")
    for row in ctx.progress.each("channels", ctx.source.rows("channels")):
        source_id = row["id"]
        if ctx.map.get("channel", source_id) is not None:
            part.already += 1
            continue
        kind = channel_type(ctx.kind, int(row.get("type") or 0))
        keys = channel_keys(row)
        base_url = str(row.get("base_url") or "").strip() or kind.default_base_url
        models = split_list(row.get("models"))
        if not keys:
            part.skip(source_id, "it has no key")
            continue
        if not base_url:
            part.skip(source_id, f"it has no base URL, and {kind.name} channels have no default one")
            continue
        if not models:
            part.skip(source_id, "it lists no models")
            continue
        groups = []
        for group in split_list(row.get("group")) or ["default"]:
            if await ensure_group(conn, ctx, group, f"channel {source_id}"):
                groups.append(group)
        name = str(row.get("name") or "")[:128]
        fields = ChannelFields(
            type=kind.serve_as or "openai",
            base_url=_with_api_version(kind.serve_as, base_url, row),
            name=name if kind.serve_as else f"{name or source_id} ({ctx.kind} type {kind.name})"[:128],
            models=tuple(models),
            model_map=_model_map(ctx, row),
            groups=tuple(groups) or ("default",),
            priority=int(row.get("priority") or 0),
            weight=_weight(ctx, row),
        )
        try:
            channel = await create_channel(conn, fields, keys, ctx.box)
        except InvalidValue as exc:
            part.skip(source_id, str(exc))
            continue
        status = int(row.get("status") or ENABLED)
        enabled = status == ENABLED
        if status == AUTO_DISABLED and kind.serve_as is not None:
            part.notes.append(
                f"channel {source_id} {name!r}: {ctx.kind} had disabled it after failures: imported disabled as "
                f"channel {channel['id']}; `relaygate channel test {channel['id']}`, then enable it"
            )
        if kind.serve_as is None:
            part.notes.append(
                f"channel {source_id} {name!r}: {kind.name} (type {row.get('type')}) is not a type relaygate "
                f"serves: imported disabled as channel {channel['id']}"
            )
            enabled = False
        if not enabled:
            await set_channel_status(conn, channel["id"], "disabled")
        await ctx.map.remember(conn, "channel", source_id, channel["id"])
        part.imported += 1


def channel_keys(row: dict[str, Any]) -> list[str]:
    """new-api's multi-key channels (`channel_info.is_multi_key`) hold one key a line, or a JSON array;
    any other channel uses its key field whole, as they do (a JSON credential spans lines)."""
    text = str(row.get("key") or "").strip()
    if not _is_multi_key(row):
        return [text] if text else []
    if text.startswith("["):
        try:
            keys = json.loads(text)
        except json.JSONDecodeError:
            keys = None
        if isinstance(keys, list):
            return [key if isinstance(key, str) else json.dumps(key) for key in keys if key]
    return split_list(text, "\n")


def _is_multi_key(row: dict[str, Any]) -> bool:
    info = row.get("channel_info")
    if isinstance(info, str | bytes):
        try:
            info = json.loads(info or "{}")
        except json.JSONDecodeError:
            return False
    return isinstance(info, dict) and bool(info.get("is_multi_key"))


def _model_map(ctx: ImportContext, row: dict[str, Any]) -> dict[str, str]:
    text = str(row.get("model_mapping") or "").strip()
    if not text or text == "{}":
        return {}
    try:
        mapping = json.loads(text)
    except json.JSONDecodeError:
        mapping = None
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        ctx.part("channels").notes.append(f"channel {row['id']}: its model mapping is not a JSON object: left out")
        return {}
    return {str(source): target for source, target in mapping.items()}


def _weight(ctx: ImportContext, row: dict[str, Any]) -> int:
    if ctx.kind == "one-api":
        return 1  # one-api picks at random inside the top priority, weights unused
    return int(row.get("weight") or 0) + NEW_API_WEIGHT_SMOOTHING


def _with_api_version(serve_as: str | None, base_url: str, row: dict[str, Any]) -> str:
    """Azure: their API version lives in `other` (one-api: also `config.api_version`); relaygate reads
    it from the base URL's `?api-version=`."""
    if serve_as != "azure" or "api-version=" in base_url:
        return base_url
    version = str(row.get("other") or "").strip()
    try:
        config = json.loads(str(row.get("config") or "{}"))
    except json.JSONDecodeError:
        config = {}
    if isinstance(config, dict) and config.get("api_version"):
        version = str(config["api_version"])
    return f"{base_url.rstrip('/')}?api-version={version}" if version else base_url
