"""A database that is out of connections is a brief outage, not a gateway bug: 503 with Retry-After.

Two shapes: this process's pool stayed empty for `RELAYGATE_DB_POOL_TIMEOUT` seconds (the brief
wait), or the server refused a new connection (PostgreSQL's "too many clients", or a role's
CONNECTION LIMIT).
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from relaygate.errors import ServiceUnavailable

# SQLSTATEs of a server out of resources: insufficient_resources, too_many_connections, cannot_connect_now
_SATURATED_STATES = frozenset({"53000", "53300", "57P03"})
RETRY_AFTER_S = 1


def database_busy(exc: SQLAlchemyError) -> ServiceUnavailable | None:
    """The 503 to answer for `exc`, or None when it is not the database running out of connections."""
    if isinstance(exc, PoolTimeout):
        reason = "every database connection of this gateway process is busy"
    elif isinstance(exc, DBAPIError) and _sqlstate(exc) in _SATURATED_STATES:
        reason = "the database server accepts no more connections"
    else:
        return None
    return ServiceUnavailable(
        f"The gateway is overloaded ({reason}). Nothing was charged; retry in a moment.",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def _sqlstate(exc: DBAPIError) -> str | None:
    original = exc.orig
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return state if isinstance(state, str) else None
