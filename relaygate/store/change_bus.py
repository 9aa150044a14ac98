"""Redis pub/sub for the change feed: writes reach every instance at once instead of at its next poll.

A publisher attached to an engine notes each row `record_change` inserts into the feed on its
connection; once that transaction has committed (when the connection goes back to the pool: the
commit event fires before the commit is done, and an instance told then may read the old rows),
it sends them on one Redis channel, and every running instance's
subscriber hands them to the same listener the poller calls. The poller keeps running as the
safety net for a message lost while an instance was disconnected, so a change is never missed,
only delivered twice (listeners only drop caches, so twice is harmless).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Insert

from relaygate.settings import Settings
from relaygate.store.changes import Listener
from relaygate.store.redis import key
from relaygate.store.schema import changes as changes_table

log = logging.getLogger(__name__)

_NOTED = "relaygate_changes"  # where the publisher notes a transaction's changes, on its connection
_COMMITTED = "relaygate_committed_changes"  # those of committed transactions, sent at checkin


def channel(settings: Settings) -> str:
    return key(settings, "changes")


class ChangePublisher:
    """Publishes the changes of every committed transaction on `engine`."""

    def __init__(self, engine: AsyncEngine, redis: Redis, settings: Settings):
        self._redis = redis
        self._channel = channel(settings)
        self._sends: set[asyncio.Task[None]] = set()
        event.listen(engine.sync_engine, "after_execute", self._executed)
        event.listen(engine.sync_engine, "commit", self._committed)
        event.listen(engine.sync_engine, "rollback", self._rolled_back)
        event.listen(engine.sync_engine.pool, "checkin", self._checked_in)

    async def drain(self) -> None:
        """Wait for the messages still being sent (a CLI command before it exits)."""
        if self._sends:
            await asyncio.gather(*self._sends, return_exceptions=True)

    def _executed(self, conn: Connection, statement: object, *_: object) -> None:
        if isinstance(statement, Insert) and statement.table is changes_table:
            values = statement.compile().params
            conn.info.setdefault(_NOTED, []).append(f"{values['kind']}:{values['ref_id']}")

    def _committed(self, conn: Connection) -> None:
        changes = conn.info.pop(_NOTED, None)
        if changes:
            conn.info.setdefault(_COMMITTED, []).extend(changes)

    def _checked_in(self, dbapi_connection: object, record: Any) -> None:
        changes = record.info.pop(_COMMITTED, None) if record is not None else None
        if not changes:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a connection collected outside the event loop: the poller delivers these
            return
        task = loop.create_task(self._send(changes))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    def _rolled_back(self, conn: Connection) -> None:
        conn.info.pop(_NOTED, None)

    async def _send(self, changes: list[str]) -> None:
        try:
            for change in changes:
                await self._redis.publish(self._channel, change)
        except (RedisError, OSError) as exc:
            log.warning("publishing changes failed; instances will see them at their next poll: %s", exc)


class ChangeSubscriber:
    """Hands every published change to `listener`, reconnecting after a lost connection."""

    def __init__(self, redis: Redis, settings: Settings, listener: Listener):
        self._redis = redis
        self._channel = channel(settings)
        self._listener = listener
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.subscribed = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="change-subscriber")

    async def stop(self) -> None:
        # The flag first: a cancellation that lands in a listener's database call may come back as an
        # ordinary error, which `_deliver` logs; the loop then ends on the flag (see periodic.py).
        self._stopping = True
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._listen()
            except (RedisError, OSError) as exc:
                self.subscribed.clear()
                log.warning("change subscription lost, reconnecting: %s", exc)
                await asyncio.sleep(0.5)

    async def _listen(self) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self._channel)
            self.subscribed.set()
            async for message in pubsub.listen():
                if self._stopping:
                    return
                await self._deliver(message)
                if self._stopping:
                    return
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # typed from redis 8.2 on

    async def _deliver(self, message: dict[str, Any]) -> None:
        kind, _, ref_id = message["data"].decode().partition(":")
        try:
            await self._listener(kind, ref_id)
        except Exception:
            log.exception("applying a published change failed; the poller will deliver it again")
