"""Redemption codes: `rc-` + 32 base62 characters, shown once, stored as a SHA-256 and a hint.

A code is redeemed exactly once: the redeeming UPDATE only matches a row whose `redeemed_at` is
still NULL, so of many concurrent attempts one changes the row and the others change nothing,
on SQLite (one writer at a time) and PostgreSQL (the second UPDATE re-checks the row after the
first commits) alike. The credit is written in the same transaction as the UPDATE.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement

from relaygate.clock import now
from relaygate.errors import AlreadyRedeemed, CodeExpired, InvalidValue, NotFoundError
from relaygate.store.schema import redemption_codes
from relaygate.tokens.keys import ALPHABET
from relaygate.users.service import credit

PREFIX = "rc-"
CODE_LENGTH = 32
MAX_BATCH = 100


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


async def create_codes(conn: AsyncConnection, count: int, quota: int, created_by: int | None) -> list[dict[str, Any]]:
    """`count` codes worth `quota` units each; each returned dict carries its full `code`, once."""
    if not 1 <= count <= MAX_BATCH:
        raise InvalidValue(f"count must be between 1 and {MAX_BATCH}", field="count")
    if quota < 0:
        raise InvalidValue("quota must not be negative", field="quota")
    created = []
    for _ in range(count):
        code = PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        result = await conn.execute(
            insert(redemption_codes).values(
                code_hash=_hash(code),
                hint=f"{code[:7]}...{code[-4:]}",
                quota=quota,
                created_by=created_by,
                created_at=now(),
            )
        )
        code_id = result.inserted_primary_key[0]  # type: ignore[index]
        created.append({**await get_code(conn, code_id), "code": code})
    return created


async def import_code(
    conn: AsyncConnection, code: str, quota: int, *, expires_at: int | None, created_by: int | None
) -> dict[str, Any] | None:
    """Keep a code sold elsewhere (new-api, one-api) redeemable once here; None if it is already known."""
    if quota < 0:
        raise InvalidValue("quota must not be negative", field="quota")
    code = code.strip()
    if (await conn.execute(select(redemption_codes.c.id).where(redemption_codes.c.code_hash == _hash(code)))).first():
        return None
    result = await conn.execute(
        insert(redemption_codes).values(
            code_hash=_hash(code),
            hint=f"{code[:4]}...{code[-4:]}",
            quota=quota,
            created_by=created_by,
            created_at=now(),
            expires_at=expires_at,
        )
    )
    return await get_code(conn, result.inserted_primary_key[0])  # type: ignore[index]


async def get_code(conn: AsyncConnection, code_id: int) -> dict[str, Any]:
    row = (await conn.execute(select(redemption_codes).where(redemption_codes.c.id == code_id))).mappings().first()
    if row is None:
        raise NotFoundError(f"no redemption code with id {code_id}")
    return public_code(row)


async def list_codes(
    conn: AsyncConnection, *, redeemed: bool | None = None, page: int = 1, per_page: int = 20
) -> tuple[list[dict[str, Any]], int]:
    conditions: list[ColumnElement[bool]] = []
    if redeemed is not None:
        column = redemption_codes.c.redeemed_at
        conditions.append(column.is_not(None) if redeemed else column.is_(None))
    total = (await conn.execute(select(func.count()).select_from(redemption_codes).where(*conditions))).scalar_one()
    query = (
        select(redemption_codes)
        .where(*conditions)
        .order_by(redemption_codes.c.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return [public_code(row) for row in (await conn.execute(query)).mappings().all()], int(total)


async def redeem_code(conn: AsyncConnection, code: str, user_id: int) -> int:
    """Mark the code redeemed by `user_id` and credit its quota; returns the quota credited."""
    code_hash = _hash(code)
    claimed = await conn.execute(
        update(redemption_codes)
        .where(
            redemption_codes.c.code_hash == code_hash,
            redemption_codes.c.redeemed_at.is_(None),
            or_(redemption_codes.c.expires_at.is_(None), redemption_codes.c.expires_at > now()),
        )
        .values(redeemed_by=user_id, redeemed_at=now())
    )
    if claimed.rowcount != 1:
        found = (
            await conn.execute(select(redemption_codes.c.redeemed_at).where(redemption_codes.c.code_hash == code_hash))
        ).first()
        if found is None:
            raise NotFoundError("no such redemption code: check it was copied whole")
        if found.redeemed_at is None:
            raise CodeExpired("This redemption code has expired: ask the administrator for a new one.")
        raise AlreadyRedeemed("This redemption code has already been used.")
    row = (
        await conn.execute(
            select(redemption_codes.c.quota, redemption_codes.c.hint).where(redemption_codes.c.code_hash == code_hash)
        )
    ).one()
    if row.quota:
        await credit(conn, user_id, row.quota, kind="redemption", reason=f"redemption code {row.hint}")
    return int(row.quota)


def public_code(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "hint": row["hint"],
        "quota": row["quota"],
        "created_at": row["created_at"],
        "redeemed_by": row["redeemed_by"],
        "redeemed_at": row["redeemed_at"],
        "expires_at": row["expires_at"],
    }
