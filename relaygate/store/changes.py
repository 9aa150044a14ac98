"""The change feed: writers append what changed; running servers poll it and drop their caches.

Every write a running server must notice (a token revoked, a channel added, a top-up) calls
`record_change` inside its own transaction, so the change and the notice commit together.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from relaygate.clock import now
from relaygate.periodic import Periodic
from relaygate.store.schema import changes

log = logging.getLogger(__name__)

Listener = Callable[[str, str], Awaitable[None]]
KEEP_SECONDS = 3600


async def record_change(conn: AsyncConnection, kind: str, ref_id: object) -> None:
    """Note that object `ref_id` of `kind` (token, user, channel, price, group) changed."""
    # With Redis, a ChangePublisher on the engine also publishes it when the transaction commits.
    await conn.execute(insert(changes).values(kind=kind, ref_id=str(ref_id), created_at=now()))


class ChangePoller:
    """Polls the change feed and tells a listener about each change, in order."""

    def __init__(self, engine: AsyncEngine, listener: Listener, interval: float):
        self._engine = engine
        self._listener = listener
        self._interval = interval
        self._last_id = 0
        self._polls = 0
        self._loop = Periodic("change feed poll", self._poll_and_prune, lambda: interval)

    async def start(self) -> None:
        async with self._engine.connect() as conn:
            self._last_id = (await conn.execute(select(func.coalesce(func.max(changes.c.id), 0)))).scalar_one()
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def poll_once(self) -> int:
        """Deliver every change since the last poll; returns how many there were."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(changes.c.id, changes.c.kind, changes.c.ref_id)
                    .where(changes.c.id > self._last_id)
                    .order_by(changes.c.id)
                )
            ).all()
        for row in rows:
            await self._listener(row.kind, row.ref_id)
            self._last_id = row.id
        return len(rows)

    async def _poll_and_prune(self) -> None:
        await self.poll_once()
        self._polls += 1
        if self._polls % 1000 == 0:
            await self._prune()

    async def _prune(self) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(changes).where(changes.c.created_at < now() - KEEP_SECONDS))
