"""Channels (upstreams): add, list, get, update, enable, disable, delete, and their keys.

Keys are encrypted at rest and never shown again, only each key's hint and status. Every change is
put on the change feed, so running relays reload their channel table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.channels.crypto import SecretBox, secret_hint
from relaygate.channels.registry import RESPONSES_CHANNEL_TYPES, Channel, channel_from_row
from relaygate.clock import now
from relaygate.errors import InvalidValue, NotFoundError
from relaygate.store.changes import record_change
from relaygate.store.schema import channel_keys, channels

CHANNEL_TYPES = ("openai", "azure", "anthropic", "gemini", "midjourney", "suno")
STATUSES = ("enabled", "disabled", "auto_disabled")
MANUAL_STATUSES = ("enabled", "disabled")  # what an admin sets; auto_disabled is channel health's
EDITABLE = (
    "name",
    "type",
    "base_url",
    "models",
    "model_map",
    "groups",
    "priority",
    "weight",
    "cost_prices",
    "chat_completions_only",
)
MANUAL_DISABLE = "disabled by an administrator"
COST_KINDS = ("input", "cached_input", "output", "per_call")


@dataclass(frozen=True)
class NewChannel:
    type: str
    base_url: str
    key: str = ""
    name: str = ""
    models: tuple[str, ...] = ()
    model_map: dict[str, str] = field(default_factory=dict)
    groups: tuple[str, ...] = ("default",)
    priority: int = 0
    weight: int = 1
    keys: tuple[str, ...] = ()  # many upstream keys; `key` is the one-key form
    cost_prices: dict[str, dict[str, str]] | None = None
    chat_completions_only: bool = False  # the upstream has no /v1/responses: Responses requests are converted

    def all_keys(self) -> list[str]:
        return clean_keys([*self.keys, *([self.key] if self.key else [])])


def clean_keys(keys: list[str]) -> list[str]:
    """The keys stripped, blanks dropped, each once, in their order. An entry holding several lines is
    several keys (a key never has a line break; new-api and one-api keep a channel's keys so)."""
    lines = (line.strip() for key in keys for line in key.splitlines())
    return list(dict.fromkeys(line for line in lines if line))


def validate_channel(spec: NewChannel, *, keys_required: bool = True) -> None:
    if spec.type not in CHANNEL_TYPES:
        raise InvalidValue(f"type must be one of {', '.join(CHANNEL_TYPES)}", field="type")
    url = urlparse(spec.base_url)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise InvalidValue("base_url must be an http(s) URL such as https://api.openai.com", field="base_url")
    if keys_required and not spec.all_keys():
        raise InvalidValue("give the channel at least one upstream key (key, or keys)", field="keys")
    if not spec.models:
        raise InvalidValue("models must list at least one model this channel serves", field="models")
    if spec.weight < 0:
        raise InvalidValue("weight must not be negative", field="weight")
    if spec.chat_completions_only and spec.type not in RESPONSES_CHANNEL_TYPES:
        raise InvalidValue(
            f"chat_completions_only is for {' and '.join(sorted(RESPONSES_CHANNEL_TYPES))} channels: other types "
            "have no Responses API of their own, and their Responses requests are always converted",
            field="chat_completions_only",
        )
    for model, rates in (spec.cost_prices or {}).items():
        for kind, value in rates.items():
            if kind not in COST_KINDS or not _is_usd(value):
                raise InvalidValue(
                    f'cost_prices[{model!r}] must map {", ".join(COST_KINDS)} to USD amounts such as "2.5"',
                    field="cost_prices",
                )


def _is_usd(value: object) -> bool:
    try:
        return isinstance(value, str) and Decimal(value).is_finite() and Decimal(value) >= 0
    except InvalidOperation:
        return False


async def add_channel(conn: AsyncConnection, spec: NewChannel, box: SecretBox) -> dict[str, Any]:
    validate_channel(spec)
    result = await conn.execute(
        insert(channels).values(
            name=spec.name or f"{spec.type}-{urlparse(spec.base_url).netloc}",
            type=spec.type,
            base_url=spec.base_url.rstrip("/"),
            models=list(spec.models),
            model_map=dict(spec.model_map),
            groups=list(spec.groups) or ["default"],
            priority=spec.priority,
            weight=spec.weight,
            status="enabled",
            cost_prices=spec.cost_prices,
            chat_completions_only=spec.chat_completions_only,
            created_at=now(),
            **_first_key(spec.all_keys(), box),
        )
    )
    channel_id = result.inserted_primary_key[0]  # type: ignore[index]
    await _insert_keys(conn, channel_id, spec.all_keys(), box)
    await record_change(conn, "channel", channel_id)
    return await get_channel(conn, channel_id)


async def _insert_keys(conn: AsyncConnection, channel_id: int, keys: list[str], box: SecretBox) -> None:
    rows = [
        {
            "channel_id": channel_id,
            "key_encrypted": box.encrypt(key),
            "key_hint": secret_hint(key),
            "status": "enabled",
            "created_at": now(),
        }
        for key in keys
    ]
    if rows:
        await conn.execute(insert(channel_keys), rows)


def _first_key(keys: list[str], box: SecretBox) -> dict[str, str]:
    """The legacy one-key columns, for the previous version during a rolling upgrade."""
    return {"key_encrypted": box.encrypt(keys[0]), "key_hint": secret_hint(keys[0])}


async def get_channel(conn: AsyncConnection, channel_id: int) -> dict[str, Any]:
    row = (await conn.execute(select(channels).where(channels.c.id == channel_id))).mappings().first()
    if row is None:
        raise NotFoundError(f"no channel with id {channel_id}")
    return public_channel(row, await _key_rows(conn, [channel_id]))


async def list_channels(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = (await conn.execute(select(channels).order_by(channels.c.id))).mappings().all()
    keys = await _key_rows(conn, None)
    return [public_channel(row, keys) for row in rows]


async def _key_rows(conn: AsyncConnection, channel_ids: list[int] | None) -> list[Any]:
    query = select(channel_keys).order_by(channel_keys.c.id)
    if channel_ids is not None:
        query = query.where(channel_keys.c.channel_id.in_(channel_ids))
    return list((await conn.execute(query)).mappings().all())


async def update_channel(
    conn: AsyncConnection, channel_id: int, changes: dict[str, Any], box: SecretBox
) -> dict[str, Any]:
    """Change any field of `EDITABLE` and the status; `key` or `keys` replace every key of the channel."""
    current = await get_channel(conn, channel_id)
    merged = {**current, **{name: changes[name] for name in EDITABLE if name in changes}}
    new_keys = clean_keys([*changes.get("keys", []), *([changes["key"]] if changes.get("key") else [])])
    if ("keys" in changes or "key" in changes) and not new_keys:
        raise InvalidValue("keys must hold at least one non-blank key", field="keys")
    spec = NewChannel(
        type=merged["type"],
        base_url=merged["base_url"],
        name=merged["name"],
        models=tuple(merged["models"]),
        model_map=dict(merged["model_map"]),
        groups=tuple(merged["groups"]),
        priority=merged["priority"],
        weight=merged["weight"],
        cost_prices=merged["cost_prices"],
        chat_completions_only=merged["chat_completions_only"],
    )
    validate_channel(spec, keys_required=False)
    values = {name: merged[name] for name in EDITABLE}
    values["base_url"] = spec.base_url.rstrip("/")
    values["groups"] = list(spec.groups) or ["default"]
    if new_keys:
        values |= _first_key(new_keys, box)
    await conn.execute(update(channels).where(channels.c.id == channel_id).values(**values))
    if new_keys:
        await conn.execute(delete(channel_keys).where(channel_keys.c.channel_id == channel_id))
        await _insert_keys(conn, channel_id, new_keys, box)
    if "status" in changes:
        await set_channel_status(conn, channel_id, changes["status"])
    await record_change(conn, "channel", channel_id)
    return await get_channel(conn, channel_id)


async def delete_channel(conn: AsyncConnection, channel_id: int) -> None:
    """Remove a channel and its keys; usage records keep its id."""
    await conn.execute(delete(channel_keys).where(channel_keys.c.channel_id == channel_id))
    if (await conn.execute(delete(channels).where(channels.c.id == channel_id))).rowcount == 0:
        raise NotFoundError(f"no channel with id {channel_id}")
    await record_change(conn, "channel", channel_id)


async def add_keys(conn: AsyncConnection, channel_id: int, keys: list[str], box: SecretBox) -> dict[str, Any]:
    """Add keys to the channel; one it holds already is not added twice."""
    await get_channel(conn, channel_id)
    keys = clean_keys(keys)
    if not keys:
        raise InvalidValue("keys must hold at least one non-blank key", field="keys")
    held = {box.decrypt(row["key_encrypted"]) for row in await _key_rows(conn, [channel_id])}
    await _insert_keys(conn, channel_id, [key for key in keys if key not in held], box)
    await record_change(conn, "channel", channel_id)
    return await get_channel(conn, channel_id)


async def delete_key(conn: AsyncConnection, channel_id: int, key_id: int) -> dict[str, Any]:
    where = (channel_keys.c.id == key_id) & (channel_keys.c.channel_id == channel_id)
    if (await conn.execute(delete(channel_keys).where(where))).rowcount == 0:
        raise NotFoundError(f"channel {channel_id} has no key with id {key_id}")
    await record_change(conn, "channel", channel_id)
    return await get_channel(conn, channel_id)


async def set_key_status(conn: AsyncConnection, channel_id: int, key_id: int, status: str) -> dict[str, Any]:
    """An admin enables or disables one key; a manual disable is never undone by a probe."""
    if status not in MANUAL_STATUSES:
        raise InvalidValue(f"status must be one of {', '.join(MANUAL_STATUSES)}", field="status")
    where = (channel_keys.c.id == key_id) & (channel_keys.c.channel_id == channel_id)
    result = await conn.execute(update(channel_keys).where(where).values(**_status_values(status)))
    if result.rowcount == 0:
        raise NotFoundError(f"channel {channel_id} has no key with id {key_id}")
    await record_change(conn, "channel", channel_id)
    return await get_channel(conn, channel_id)


async def load_channel(conn: AsyncConnection, channel_id: int, box: SecretBox) -> Channel:
    """One channel, enabled or not, with its first enabled key (else its first key) decrypted, for a test."""
    row = (await conn.execute(select(channels).where(channels.c.id == channel_id))).mappings().first()
    if row is None:
        raise NotFoundError(f"no channel with id {channel_id}")
    keys = sorted(await _key_rows(conn, [channel_id]), key=lambda key: (key["status"] != "enabled", key["id"]))
    if not keys:
        raise InvalidValue(f"channel {channel_id} has no key: add one first", field="keys")
    return channel_from_row(row, keys[0], box)


async def set_channel_status(conn: AsyncConnection, channel_id: int, status: str) -> None:
    """An admin enables or disables the channel (a manual disable stays until an admin enables it)."""
    if status not in MANUAL_STATUSES:
        raise InvalidValue(f"status must be one of {', '.join(MANUAL_STATUSES)}", field="status")
    result = await conn.execute(update(channels).where(channels.c.id == channel_id).values(**_status_values(status)))
    if result.rowcount == 0:
        raise NotFoundError(f"no channel with id {channel_id}")
    await record_change(conn, "channel", channel_id)


def _status_values(status: str) -> dict[str, Any]:
    if status == "enabled":
        return {"status": "enabled", "disabled_reason": None, "disabled_at": None}
    return {"status": status, "disabled_reason": MANUAL_DISABLE, "disabled_at": now()}


async def load_channel_rows(conn: AsyncConnection) -> tuple[list[Any], list[Any]]:
    """Every enabled channel and every enabled key, still encrypted (for the in-memory registry)."""
    rows = (await conn.execute(select(channels).where(channels.c.status == "enabled"))).mappings().all()
    keys = (await conn.execute(select(channel_keys).where(channel_keys.c.status == "enabled"))).mappings().all()
    return list(rows), list(keys)


async def load_disabled_channel_routes(conn: AsyncConnection) -> list[Any]:
    """The models and groups of every channel not enabled (no key: the relay never calls them)."""
    query = select(channels.c.models, channels.c.groups).where(channels.c.status != "enabled")
    return list((await conn.execute(query)).mappings().all())


def public_channel(row: Any, key_rows: list[Any]) -> dict[str, Any]:
    keys = [public_key(key) for key in key_rows if key["channel_id"] == row["id"]]
    return {
        "id": row["id"],
        "name": row["name"],
        "type": row["type"],
        "base_url": row["base_url"],
        "key_hint": keys[0]["hint"] if keys else "",
        "keys": keys,
        "models": list(row["models"]),
        "model_map": dict(row["model_map"]),
        "groups": list(row["groups"]),
        "priority": row["priority"],
        "weight": row["weight"],
        "status": row["status"],
        "disabled_reason": row["disabled_reason"],
        "disabled_at": row["disabled_at"],
        "last_probe_at": row["last_probe_at"],
        "last_probe_error": row["last_probe_error"],
        "cost_prices": row["cost_prices"] or {},
        "chat_completions_only": bool(row["chat_completions_only"]),
        "created_at": row["created_at"],
    }


def public_key(row: Any) -> dict[str, Any]:
    """What anyone may read of an upstream key: never the key."""
    return {
        "id": row["id"],
        "hint": row["key_hint"],
        "status": row["status"],
        "disabled_reason": row["disabled_reason"],
        "disabled_at": row["disabled_at"],
    }
