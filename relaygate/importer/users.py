"""Users: name, role (1/10/100 -> user/admin/root, their root an admin unless --keep-root), status,
group, balance, used quota and request count, and their bcrypt password hash (rehashed to argon2id
at the first login here)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.importer.context import ImportContext, is_deleted
from relaygate.importer.groups_prices import ensure_group
from relaygate.importer.opening import write_opening_usage
from relaygate.importer.tokens import skip_reason as token_skip_reason
from relaygate.store.schema import users
from relaygate.users.service import ImportedUser, import_user, set_request_count

ROLES = {0: "user", 1: "user", 10: "admin", 100: "root"}
STATUSES = {1: "enabled", 2: "disabled"}
DELETED = 3  # one-api's UserStatusDeleted
NO_PASSWORD = "!"  # noqa: S105 - not a password: a hash that matches no password: such an account logs in only after `relaygate user passwd`
_BCRYPT = re.compile(r"^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$")
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


async def import_users(conn: AsyncConnection, ctx: ImportContext) -> None:
    part = ctx.part("users")
    token_usage = _usage_of_importable_tokens(ctx)
    taken = set((await conn.execute(select(users.c.name))).scalars())  # deleted accounts keep their names
    for row in ctx.progress.each("users", ctx.source.rows("users")):
        source_id = row["id"]
        if ctx.map.get("user", source_id) is not None:
            part.already += 1
            continue
        if is_deleted(row) or row.get("status") == DELETED:
            part.skip(source_id, "deleted in the source")
            continue
        role = ROLES.get(int(row.get("role") or 1), "user")
        if role == "root" and not ctx.keep_root:
            role = "admin"  # relaygate's own root stays the one root
        status = STATUSES.get(int(row.get("status") or 1), "disabled")
        group = str(row.get("group") or "default")
        if not await ensure_group(conn, ctx, group, f"user {source_id}"):
            part.notes.append(f"user {source_id}: group {group!r} is not a valid group name, put in 'default'")
            group = "default"
        name = _free_name(ctx, taken, str(row.get("username") or ""), source_id)
        taken.add(name)
        password_hash = str(row.get("password") or "")
        if not _BCRYPT.match(password_hash):
            part.notes.append(f"user {name!r} has no password hash there: set one with `relaygate user passwd`")
            password_hash = NO_PASSWORD
        balance, used = int(row.get("quota") or 0), int(row.get("used_quota") or 0)
        user_id = await import_user(
            conn,
            ImportedUser(
                name=name,
                password_hash=password_hash,
                role=role,
                group=group,
                status=status,
                balance=balance,
                used_quota=used,
                request_count=int(row.get("request_count") or 0),
            ),
            reason=f"opening credit from {ctx.kind} user {source_id}: balance {balance} + used {used}",
        )
        # The account's own share of its used quota: the rest is charged to its tokens as they come in.
        rest = used - token_usage.get(source_id, 0)
        await write_opening_usage(conn, user_id=user_id, token_id=None, quota=rest, ref=f"user:{user_id}")
        await set_request_count(conn, user_id, int(row.get("request_count") or 0))  # as it was there
        await ctx.map.remember(conn, "user", source_id, user_id)
        part.imported += 1


def _usage_of_importable_tokens(ctx: ImportContext) -> dict[Any, int]:
    usage: dict[Any, int] = {}
    for row in ctx.source.rows("tokens"):
        if token_skip_reason(row) is None:
            usage[row["user_id"]] = usage.get(row["user_id"], 0) + int(row.get("used_quota") or 0)
    return usage


def _free_name(ctx: ImportContext, taken: set[str], wanted: str, source_id: object) -> str:
    """Their name where relaygate allows it and it is free; else a close one, noted in the report."""
    name = _NAME_CHARS.sub("_", wanted)[:64] or f"user_{source_id}"
    short = ctx.kind.replace("-", "")
    candidates = [name, f"{name}_{short}", *(f"{name}_{short}_{source_id}_{n}" for n in range(1, 100))]
    for candidate in candidates:
        if candidate not in taken:
            if candidate != wanted:
                ctx.part("users").notes.append(
                    f"user {source_id} {wanted!r} is named {candidate!r} here"
                    + (
                        ": the name is taken"
                        if candidate != name
                        else ": relaygate names allow letters, digits, - and _"
                    )
                )
            return candidate
    raise ValueError(f"no free name for {ctx.kind} user {source_id} {wanted!r}")
