"""Access keys: management credentials for scripts, `ak-` + 48 base62 characters, shown once.

They are a different kind of secret from relay tokens (`sk-`): each is refused where the other
belongs. Only a SHA-256 and a display hint are stored.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.clock import now
from relaygate.errors import InvalidValue, NotFoundError
from relaygate.store.schema import access_keys
from relaygate.tokens.keys import ALPHABET, SECRET_LENGTH

PREFIX = "ak-"
# Writing last_used_at on every call would make each read a write; once a minute is enough to show.
LAST_USED_RESOLUTION = 60


def generate_access_key() -> str:
    return PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(SECRET_LENGTH))


def is_access_key(text: str) -> bool:
    return text.startswith(PREFIX)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_access_key(conn: AsyncConnection, user_id: int, name: str = "") -> dict[str, Any]:
    """A new key for `user_id`; the returned dict carries the full `key`, the only time it exists."""
    if len(name) > 128:
        raise InvalidValue("name must be at most 128 characters", field="name")
    key = generate_access_key()
    result = await conn.execute(
        insert(access_keys).values(
            user_id=user_id, name=name, key_hash=_hash(key), hint=f"{key[:7]}...{key[-4:]}", created_at=now()
        )
    )
    key_id = result.inserted_primary_key[0]  # type: ignore[index]
    row = (await conn.execute(select(access_keys).where(access_keys.c.id == key_id))).mappings().one()
    return {**public_access_key(row), "key": key}


async def list_access_keys(conn: AsyncConnection, user_id: int | None = None) -> list[dict[str, Any]]:
    query = select(access_keys).order_by(access_keys.c.id)
    if user_id is not None:
        query = query.where(access_keys.c.user_id == user_id)
    return [public_access_key(row) for row in (await conn.execute(query)).mappings().all()]


async def revoke_access_key(conn: AsyncConnection, key_id: int, *, user_id: int | None = None) -> None:
    """Delete a key (with `user_id`, only if that user owns it); it stops working at once."""
    query = delete(access_keys).where(access_keys.c.id == key_id)
    if user_id is not None:
        query = query.where(access_keys.c.user_id == user_id)
    if (await conn.execute(query)).rowcount == 0:
        raise NotFoundError(f"no access key with id {key_id}")


async def user_id_for_access_key(conn: AsyncConnection, key: str) -> int | None:
    """The owner of a live access key, or None; notes when it was last used."""
    key_hash = _hash(key)
    user_id = (await conn.execute(select(access_keys.c.user_id).where(access_keys.c.key_hash == key_hash))).scalar()
    if user_id is None:
        return None
    stale = now() - LAST_USED_RESOLUTION
    await conn.execute(
        update(access_keys)
        .where(
            access_keys.c.key_hash == key_hash,
            or_(access_keys.c.last_used_at.is_(None), access_keys.c.last_used_at < stale),
        )
        .values(last_used_at=now())
    )
    return int(user_id)


def public_access_key(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "user_id": row["user_id"],
        "name": row["name"],
        "hint": row["hint"],
        "created_at": row["created_at"],
        "last_used_at": row["last_used_at"],
    }
