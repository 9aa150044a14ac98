"""Pricing groups: a name and a price multiplier. The relay reloads them on every change."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.billing.money import parse_usd
from relaygate.errors import ConflictError, Forbidden, InvalidValue, NotFoundError
from relaygate.store.changes import record_change
from relaygate.store.schema import groups, tokens, users

DEFAULT_GROUP = "default"
AUTO_GROUP = "auto"  # a token's group that means: the selectable groups in order, the first serving the model


def _multiplier(value: str | int | float | Decimal) -> str:
    try:
        amount = parse_usd(value, field="multiplier")
    except ValueError as exc:
        raise InvalidValue(f"multiplier must be a number such as 1.5, got {value!r}", field="multiplier") from exc
    if amount < 0:
        raise InvalidValue("multiplier must not be negative", field="multiplier")
    return str(amount)


async def get_group(conn: AsyncConnection, name: str) -> dict[str, Any]:
    row = (await conn.execute(select(groups).where(groups.c.name == name))).mappings().first()
    if row is None:
        raise NotFoundError(f"no group named {name!r}")
    return dict(row)


async def ensure_group(conn: AsyncConnection, name: str, *, field: str = "group") -> None:
    """Refuse (422) a group name that does not exist."""
    if (await conn.execute(select(groups.c.name).where(groups.c.name == name))).first() is None:
        raise InvalidValue(f"there is no group named {name!r}: create it first", field=field)


async def check_token_group(conn: AsyncConnection, group: str | None, owner_group: str, *, admin: bool) -> None:
    """A token may name its owner's group, a selectable group or `auto`; an admin may give it any group.

    Refuses a group that does not exist (422) and, for a user, one they may not pick (403).
    """
    if group is None or group == AUTO_GROUP:
        return
    row = (await conn.execute(select(groups.c.selectable).where(groups.c.name == group))).first()
    if row is None:
        raise InvalidValue(f"there is no group named {group!r}: create it first", field="group")
    if not admin and group != owner_group and not row.selectable:
        raise Forbidden(
            f"The group {group!r} is not one you may choose: use your own group {owner_group!r}, 'auto', "
            "or a group the pricing page lists as selectable."
        )


async def create_group(
    conn: AsyncConnection,
    name: str,
    multiplier: str | Decimal = "1",
    description: str = "",
    *,
    selectable: bool = False,
    sort_order: int = 0,
) -> dict[str, Any]:
    if not name or len(name) > 64 or not name.replace("_", "").replace("-", "").isalnum():
        raise InvalidValue("name must be 1-64 letters, digits, '-' or '_'", field="name")
    if name == AUTO_GROUP:
        raise InvalidValue("'auto' is reserved: a token set to it tries the selectable groups in order", field="name")
    values = {"name": name, "multiplier": _multiplier(multiplier), "description": description}
    try:
        async with conn.begin_nested():
            await conn.execute(insert(groups).values(**values, selectable=selectable, sort_order=sort_order))
    except IntegrityError as exc:
        raise ConflictError(f"a group named {name!r} already exists") from exc
    await record_change(conn, "group", name)
    return await get_group(conn, name)


async def update_group(conn: AsyncConnection, name: str, changes: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if changes.get("multiplier") is not None:
        values["multiplier"] = _multiplier(changes["multiplier"])
    for name_ in ("description", "selectable", "sort_order"):
        if changes.get(name_) is not None:
            values[name_] = changes[name_]
    await get_group(conn, name)
    if values:
        await conn.execute(update(groups).where(groups.c.name == name).values(**values))
        await record_change(conn, "group", name)
    return await get_group(conn, name)


async def delete_group(conn: AsyncConnection, name: str) -> None:
    """Delete a group no user or token uses; `default` stays."""
    if name == DEFAULT_GROUP:
        raise ConflictError("the default group cannot be deleted")
    await get_group(conn, name)
    in_use = (await conn.execute(select(func.count()).select_from(users).where(users.c.group == name))).scalar_one()
    in_use += (
        await conn.execute(
            select(func.count()).select_from(tokens).where(tokens.c.group == name, tokens.c.status != "deleted")
        )
    ).scalar_one()
    if in_use:
        raise ConflictError(f"the group {name!r} is still used by {in_use} users or tokens: move them first")
    await conn.execute(delete(groups).where(groups.c.name == name))
    await record_change(conn, "group", name)
