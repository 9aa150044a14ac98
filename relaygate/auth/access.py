"""The relay's cached view of tokens and their owners, dropped on every change-feed notice.

Reads on the hot path come from memory; a key not in memory costs one database read, of the token
and its owner together, shared by every request that misses the same key at once. A load that
raced with an invalidation is not cached, so a revoke is never undone by a stale read.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from relaygate.settings import IPNetwork
from relaygate.single_flight import SingleFlight
from relaygate.store.database import single_reads
from relaygate.store.schema import tokens, users
from relaygate.tokens.keys import hash_key


@dataclass(frozen=True)
class TokenAccess:
    id: int
    user_id: int
    status: str
    expires_at: int | None
    quota_limit: int | None  # None: unlimited
    models: frozenset[str]
    networks: tuple[IPNetwork, ...]
    group: str | None
    rpm: int | None
    tpm: int | None
    max_concurrent: int | None


@dataclass(frozen=True)
class UserAccess:
    id: int
    name: str
    status: str
    group: str
    rpm: int | None = None  # limits over all of the user's tokens together
    tpm: int | None = None
    max_concurrent: int | None = None


_TOKEN_COLUMNS = [
    tokens.c[name]
    for name in (
        "id", "user_id", "status", "expires_at", "unlimited", "quota_limit", "models", "allow_ips",
        "group", "rpm", "tpm", "max_concurrent",
    )
]  # fmt: skip
_USER_COLUMNS = [users.c[name] for name in ("id", "name", "status", "group", "rpm", "tpm", "max_concurrent")]
_OWNER = "owner_"  # the label prefix of the owner's columns in the joined read
# A token with its owner: an outer join, so that a token whose owner is gone still reads as that.
# Built once: building a statement and its cache key on each miss costs over 100 us.
_TOKEN_WITH_OWNER = (
    select(*_TOKEN_COLUMNS, *(column.label(_OWNER + column.name) for column in _USER_COLUMNS))
    .select_from(tokens.outerjoin(users, users.c.id == tokens.c.user_id))
    .where(tokens.c.key_hash == bindparam("key_hash"), tokens.c.status != "deleted")
)
_USER = select(*_USER_COLUMNS).where(users.c.id == bindparam("user_id"))


class AccessCache:
    def __init__(self, engine: AsyncEngine):
        self._reads = single_reads(engine)
        self._tokens: dict[str, TokenAccess] = {}
        self._hash_by_token_id: dict[int, str] = {}
        self._users: dict[int, UserAccess] = {}
        self._generation = 0
        self._token_loads: SingleFlight[str, TokenAccess | None] = SingleFlight()
        self._user_loads: SingleFlight[int, UserAccess | None] = SingleFlight()

    async def token_for_key(self, key: str) -> TokenAccess | None:
        """The live (not deleted) token with this key, or None."""
        key_hash = hash_key(key)
        cached = self._tokens.get(key_hash)
        if cached is not None:
            return cached
        return await self._token_loads.run(key_hash, lambda: self._load_token(key_hash))

    async def _load_token(self, key_hash: str) -> TokenAccess | None:
        """The token and its owner in one read; both cached unless a change notice arrived meanwhile."""
        generation = self._generation
        async with self._reads.connect() as conn:
            row = (await conn.execute(_TOKEN_WITH_OWNER, {"key_hash": key_hash})).mappings().first()
        if row is None:
            return None
        token = _token_from_row(row)
        owner = _user_from_row(row, _OWNER) if row[_OWNER + "id"] is not None else None
        if generation == self._generation:
            self._tokens[key_hash] = token
            self._hash_by_token_id[token.id] = key_hash
            if owner is not None:
                self._users[owner.id] = owner
        return token

    async def user(self, user_id: int) -> UserAccess | None:
        cached = self._users.get(user_id)
        if cached is not None:
            return cached
        return await self._user_loads.run(user_id, lambda: self._load_user(user_id))

    async def _load_user(self, user_id: int) -> UserAccess | None:
        generation = self._generation
        async with self._reads.connect() as conn:
            row = (await conn.execute(_USER, {"user_id": user_id})).mappings().first()
        if row is None:
            return None
        user = _user_from_row(row)
        if generation == self._generation:
            self._users[user_id] = user
        return user

    async def on_change(self, kind: str, ref_id: str) -> None:
        if kind == "token":
            self._generation += 1
            key_hash = self._hash_by_token_id.pop(int(ref_id), None)
            if key_hash is not None:
                self._tokens.pop(key_hash, None)
        elif kind == "user":
            self._generation += 1
            self._users.pop(int(ref_id), None)


def _user_from_row(row: Any, prefix: str = "") -> UserAccess:
    return UserAccess(
        id=row[prefix + "id"],
        name=row[prefix + "name"],
        status=row[prefix + "status"],
        group=row[prefix + "group"],
        rpm=row[prefix + "rpm"],
        tpm=row[prefix + "tpm"],
        max_concurrent=row[prefix + "max_concurrent"],
    )


def _token_from_row(row: Any) -> TokenAccess:
    return TokenAccess(
        id=row["id"],
        user_id=row["user_id"],
        status=row["status"],
        expires_at=row["expires_at"],
        quota_limit=None if row["unlimited"] else row["quota_limit"],
        models=frozenset(row["models"]),
        networks=tuple(ipaddress.ip_network(entry, strict=False) for entry in row["allow_ips"]),
        group=row["group"],
        rpm=row["rpm"],
        tpm=row["tpm"],
        max_concurrent=row["max_concurrent"],
    )
