"""Which ledger a deployment runs, from its settings (docs/deployment.md explains the choice).

- Redis configured: `RedisLedger`, shared counters for any number of processes and hosts.
- PostgreSQL without Redis, or several workers: `DatabaseLedger`, conditional updates in the
  database; correct for any number of processes, slower.
- SQLite with one worker (the embedded default): `MemoryLedger`, counters in the one process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from relaygate.billing.db_ledger import DatabaseLedger
from relaygate.billing.ledger import Ledger, MemoryLedger
from relaygate.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis


def ledger_kind(settings: Settings) -> str:
    if settings.redis_url:
        return "redis"
    if settings.workers > 1 or not settings.is_sqlite:
        return "database"
    return "memory"


def build_ledger(settings: Settings, engine: AsyncEngine, redis: Redis | None) -> Ledger:
    kind = ledger_kind(settings)
    if kind == "redis":
        from relaygate.billing.redis_ledger import RedisLedger  # only scale-out deployments load Redis code

        assert redis is not None
        return RedisLedger(engine, redis, settings)
    if kind == "database":
        return DatabaseLedger(engine, settings.flush_interval)
    return MemoryLedger(engine, settings.flush_interval)
