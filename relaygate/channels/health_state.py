"""Channel health in the database: every automatic change of a key's or channel's status.

Each write is conditional on the status it changes from, so that of several instances seeing the
same failure only one makes (and announces) the change, and so that a probe never undoes an
admin's manual disable (`disabled` is never the status a probe changes from).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.clock import now
from relaygate.store.changes import record_change
from relaygate.store.schema import channel_keys, channels

REASON_LENGTH = 255


async def auto_disable_key(conn: AsyncConnection, channel_id: int, key_id: int, reason: str) -> bool:
    """Whether this call took the enabled key out (False: already out, or gone)."""
    result = await conn.execute(
        update(channel_keys)
        .where(channel_keys.c.id == key_id, channel_keys.c.status == "enabled")
        .values(status="auto_disabled", disabled_reason=reason[:REASON_LENGTH], disabled_at=now())
    )
    if result.rowcount:
        await record_change(conn, "channel", channel_id)
    return bool(result.rowcount)


async def auto_disable_channel(conn: AsyncConnection, channel_id: int, reason: str) -> bool:
    """Whether this call took the enabled channel out."""
    result = await conn.execute(
        update(channels)
        .where(channels.c.id == channel_id, channels.c.status == "enabled")
        .values(status="auto_disabled", disabled_reason=reason[:REASON_LENGTH], disabled_at=now())
    )
    if result.rowcount:
        await record_change(conn, "channel", channel_id)
    return bool(result.rowcount)


async def enabled_keys_left(conn: AsyncConnection, channel_id: int) -> int:
    rows = await conn.execute(
        select(channel_keys.c.id).where(channel_keys.c.channel_id == channel_id, channel_keys.c.status == "enabled")
    )
    return len(rows.all())


async def restore_key(conn: AsyncConnection, channel_id: int, key_id: int) -> bool:
    """Whether a passing probe brought this auto-disabled key back."""
    result = await conn.execute(
        update(channel_keys)
        .where(channel_keys.c.id == key_id, channel_keys.c.status == "auto_disabled")
        .values(status="enabled", disabled_reason=None, disabled_at=None)
    )
    if result.rowcount:
        await record_change(conn, "channel", channel_id)
    return bool(result.rowcount)


async def restore_channel(conn: AsyncConnection, channel_id: int) -> bool:
    """Whether a passing probe brought this auto-disabled channel back."""
    result = await conn.execute(
        update(channels)
        .where(channels.c.id == channel_id, channels.c.status == "auto_disabled")
        .values(status="enabled", disabled_reason=None, disabled_at=None)
    )
    if result.rowcount:
        await record_change(conn, "channel", channel_id)
    return bool(result.rowcount)


async def note_probe(conn: AsyncConnection, channel_id: int, error: str | None) -> None:
    """When the channel was last probed and what failed (None: it passed). Seen by admins only."""
    await conn.execute(
        update(channels)
        .where(channels.c.id == channel_id)
        .values(last_probe_at=now(), last_probe_error=error[:REASON_LENGTH] if error else None)
    )


async def unhealthy(conn: AsyncConnection) -> tuple[list[Any], list[Any]]:
    """What a probe round looks at: channels not disabled by an admin that are auto-disabled or hold an
    auto-disabled key, and every key of those channels."""
    bad_keys = select(channel_keys.c.channel_id).where(channel_keys.c.status == "auto_disabled")
    rows = (
        (
            await conn.execute(
                select(channels).where(
                    channels.c.status != "disabled",
                    (channels.c.status == "auto_disabled") | channels.c.id.in_(bad_keys),
                )
            )
        )
        .mappings()
        .all()
    )
    ids = [row["id"] for row in rows]
    keys = (
        (await conn.execute(select(channel_keys).where(channel_keys.c.channel_id.in_(ids)).order_by(channel_keys.c.id)))
        .mappings()
        .all()
    )
    return list(rows), list(keys)
