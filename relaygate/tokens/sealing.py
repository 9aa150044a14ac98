"""Seed 2's "Copy: reveal full key once from list actions".

A new or rotated key is kept sealed (encrypted with the secret key) beside its hash until it is
revealed once (`reveal_key`) or `RELAYGATE_KEY_REVEAL_HOURS` pass; then the sealed copy is erased
and only the hash is left. With 0 hours nothing is sealed, and seals left from before are erased.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import ColumnElement

from relaygate.channels.crypto import SecretBox
from relaygate.clock import now
from relaygate.errors import KeyNotAvailable, NotFoundError
from relaygate.periodic import Periodic
from relaygate.store.changes import record_change
from relaygate.store.schema import tokens

log = logging.getLogger(__name__)

CONTEXT = b"relaygate token key v1"
SWEEP_EVERY_SECONDS = 60
UNSEALED = {"sealed_key": None, "sealed_until": None}


@dataclass(frozen=True)
class KeySeal:
    """How new keys are sealed: under the secret key, for `hours` (0: not at all)."""

    box: SecretBox
    hours: int

    @classmethod
    def create(cls, secret_key: str, hours: int) -> KeySeal:
        return cls(SecretBox(secret_key, context=CONTEXT, what="sealed token key"), hours)

    def columns(self, key: str) -> dict[str, Any]:
        """The token columns that keep `key` sealed until its reveal time passes."""
        if self.hours == 0:
            return dict(UNSEALED)
        return {"sealed_key": self.box.encrypt(key), "sealed_until": now() + self.hours * 3600}


def is_revealable(row: Any) -> bool:
    """The token's key can still be revealed (once) from the list."""
    return row["sealed_key"] is not None and row["sealed_until"] is not None and row["sealed_until"] > now()


async def reveal_key(conn: AsyncConnection, token_id: int, user_id: int, seal: KeySeal) -> dict[str, Any]:
    """The full key of the user's token, once: the sealed copy is erased in the same transaction.

    The claim is a single conditional UPDATE, so of two concurrent reveals only one gets the key."""
    live = (tokens.c.id == token_id, tokens.c.user_id == user_id, tokens.c.status != "deleted")
    claimed = await conn.execute(
        update(tokens)
        .where(*live, tokens.c.sealed_key.is_not(None), tokens.c.sealed_until > now())
        .values(sealed_until=0)
    )
    if claimed.rowcount != 1:
        if (await conn.execute(select(tokens.c.id).where(*live))).first() is None:
            raise NotFoundError(f"no token with id {token_id}")
        raise KeyNotAvailable(
            "This token's full key is no longer available: it is shown once, at creation and by one reveal, "
            "within RELAYGATE_KEY_REVEAL_HOURS. Rotate the token for a new key."
        )
    row = (await conn.execute(select(tokens.c.sealed_key, tokens.c.hint).where(tokens.c.id == token_id))).one()
    await conn.execute(update(tokens).where(tokens.c.id == token_id).values(**UNSEALED))
    await record_change(conn, "token", token_id)
    return {"id": token_id, "hint": row.hint, "key": seal.box.decrypt(row.sealed_key)}


async def erase_expired_seals(conn: AsyncConnection, hours: int) -> int:
    """Erase sealed keys whose time passed (all of them when sealing is off); returns how many."""
    condition: ColumnElement[bool] = tokens.c.sealed_key.is_not(None)
    if hours > 0:
        condition &= or_(tokens.c.sealed_until.is_(None), tokens.c.sealed_until <= now())
    return int((await conn.execute(update(tokens).where(condition).values(**UNSEALED))).rowcount)


class SealSweeper:
    """Erases expired seals at start and then every minute, so only hashes outlive the reveal time."""

    def __init__(self, engine: AsyncEngine, hours: int):
        self._engine = engine
        self._hours = hours
        self._loop = Periodic("erasing expired sealed keys", self._sweep, lambda: SWEEP_EVERY_SECONDS, run_first=True)

    async def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def sweep_once(self) -> int:
        async with self._engine.begin() as conn:
            return await erase_expired_seals(conn, self._hours)

    async def _sweep(self) -> None:
        erased = await self.sweep_once()
        if erased:
            log.info("erased %d sealed token keys whose reveal time passed", erased)
