"""Channels (upstreams): add, list, get, update, enable, disable, delete.

Keys are encrypted at rest and never shown again, only their hint. Every change is put on the
change feed, so running relays reload their channel table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.channels.crypto import SecretBox, secret_hint
from relaygate.channels.registry import Channel, channel_from_row
from relaygate.clock import now
from relaygate.errors import InvalidValue, NotFoundError
from relaygate.store.changes import record_change
from relaygate.store.schema import channels

CHANNEL_TYPES = ("openai", "azure", "anthropic", "gemini", "midjourney", "suno")
STATUSES = ("enabled", "disabled")
EDITABLE = ("name", "type", "base_url", "models", "model_map", "groups", "priority", "weight", "status")


@dataclass(frozen=True)
class NewChannel:
    type: str
    base_url: str
    key: str
    name: str = ""
    models: tuple[str, ...] = ()
    model_map: dict[str, str] = field(default_factory=dict)
    groups: tuple[str, ...] = ("default",)
    priority: int = 0
    weight: int = 1


def validate_channel(spec: NewChannel) -> None:
    if spec.type not in CHANNEL_TYPES:
        raise InvalidValue(f"type must be one of {', '.join(CHANNEL_TYPES)}", field="type")
    url = urlparse(spec.base_url)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise InvalidValue("base_url must be an http(s) URL such as https://api.openai.com", field="base_url")
    if not spec.key:
        raise InvalidValue("key must not be empty", field="key")
    if not spec.models:
        raise InvalidValue("models must list at least one model this channel serves", field="models")
    if spec.weight < 0:
        raise InvalidValue("weight must not be negative", field="weight")


async def add_channel(conn: AsyncConnection, spec: NewChannel, box: SecretBox) -> dict[str, Any]:
    validate_channel(spec)
    result = await conn.execute(
        insert(channels).values(
            name=spec.name or f"{spec.type}-{urlparse(spec.base_url).netloc}",
            type=spec.type,
            base_url=spec.base_url.rstrip("/"),
            key_encrypted=box.encrypt(spec.key),
            key_hint=secret_hint(spec.key),
            models=list(spec.models),
            model_map=dict(spec.model_map),
            groups=list(spec.groups) or ["default"],
            priority=spec.priority,
            weight=spec.weight,
            status="enabled",
            created_at=now(),
        )
    )
    channel_id = result.inserted_primary_key[0]  # type: ignore[index]
    await record_change(conn, "channel", channel_id)
    return await get_channel(conn, channel_id)


async def get_channel(conn: AsyncConnection, channel_id: int) -> dict[str, Any]:
    row = (await conn.execute(select(channels).where(channels.c.id == channel_id))).mappings().first()
    if row is None:
        raise NotFoundError(f"no channel with id {channel_id}")
    return public_channel(row)


async def list_channels(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = (await conn.execute(select(channels).order_by(channels.c.id))).mappings().all()
    return [public_channel(row) for row in rows]


async def update_channel(
    conn: AsyncConnection, channel_id: int, changes: dict[str, Any], box: SecretBox
) -> dict[str, Any]:
    """Change any field of `EDITABLE`, and the key (re-encrypted) when `changes` has one."""
    current = await get_channel(conn, channel_id)
    merged = {**current, **{name: changes[name] for name in EDITABLE if name in changes}}
    if merged["status"] not in STATUSES:
        raise InvalidValue(f"status must be one of {', '.join(STATUSES)}", field="status")
    key = changes.get("key")
    spec = NewChannel(
        type=merged["type"],
        base_url=merged["base_url"],
        key=key if key is not None else "unchanged",
        name=merged["name"],
        models=tuple(merged["models"]),
        model_map=dict(merged["model_map"]),
        groups=tuple(merged["groups"]),
        priority=merged["priority"],
        weight=merged["weight"],
    )
    validate_channel(spec)
    values = {name: merged[name] for name in EDITABLE}
    values["base_url"] = spec.base_url.rstrip("/")
    values["groups"] = list(spec.groups) or ["default"]
    if key is not None:
        values |= {"key_encrypted": box.encrypt(key), "key_hint": secret_hint(key)}
    await conn.execute(update(channels).where(channels.c.id == channel_id).values(**values))
    await record_change(conn, "channel", channel_id)
    return await get_channel(conn, channel_id)


async def delete_channel(conn: AsyncConnection, channel_id: int) -> None:
    """Remove a channel; usage records keep its id."""
    if (await conn.execute(delete(channels).where(channels.c.id == channel_id))).rowcount == 0:
        raise NotFoundError(f"no channel with id {channel_id}")
    await record_change(conn, "channel", channel_id)


async def load_channel(conn: AsyncConnection, channel_id: int, box: SecretBox) -> Channel:
    """One channel, enabled or not, with its key decrypted (for a test request)."""
    row = (await conn.execute(select(channels).where(channels.c.id == channel_id))).mappings().first()
    if row is None:
        raise NotFoundError(f"no channel with id {channel_id}")
    return channel_from_row(row, box)


async def set_channel_status(conn: AsyncConnection, channel_id: int, status: str) -> None:
    if status not in STATUSES:
        raise InvalidValue(f"status must be one of {', '.join(STATUSES)}", field="status")
    result = await conn.execute(update(channels).where(channels.c.id == channel_id).values(status=status))
    if result.rowcount == 0:
        raise NotFoundError(f"no channel with id {channel_id}")
    await record_change(conn, "channel", channel_id)


async def load_channel_rows(conn: AsyncConnection) -> list[Any]:
    """Every enabled channel, key still encrypted (for the in-memory registry)."""
    return list((await conn.execute(select(channels).where(channels.c.status == "enabled"))).mappings().all())


async def load_disabled_channel_routes(conn: AsyncConnection) -> list[Any]:
    """The models and groups of every channel not enabled (no key: the relay never calls them)."""
    query = select(channels.c.models, channels.c.groups).where(channels.c.status != "enabled")
    return list((await conn.execute(query)).mappings().all())


def public_channel(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "type": row["type"],
        "base_url": row["base_url"],
        "key_hint": row["key_hint"],
        "models": list(row["models"]),
        "model_map": dict(row["model_map"]),
        "groups": list(row["groups"]),
        "priority": row["priority"],
        "weight": row["weight"],
        "status": row["status"],
        "created_at": row["created_at"],
    }
