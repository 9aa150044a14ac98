"""The Redis connection of a scale-out deployment (RELAYGATE_REDIS_URL; none on a single node).

Every key the gateway writes starts with RELAYGATE_REDIS_PREFIX, so several deployments (or test
runs) can share one server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from relaygate.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis


def connect_redis(settings: Settings) -> Redis | None:
    """A client for the configured server, or None without RELAYGATE_REDIS_URL. Connects lazily."""
    if not settings.redis_url:
        return None
    import redis.asyncio as aioredis  # imported only here: a single node never loads the client

    return aioredis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=2,
        socket_timeout=2,
        health_check_interval=10,
        max_connections=256,
    )


def key(settings: Settings, *parts: object) -> str:
    """`<prefix>part:part:...`"""
    return settings.redis_prefix + ":".join(str(part) for part in parts)


async def unreachable(client: Redis) -> str | None:
    """None when the server answers a PING, else the kind of failure (for /readyz)."""
    from redis.exceptions import RedisError

    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        return type(exc).__name__
    return None
