"""Console sessions, stored server-side: the cookie holds a random secret, the table its SHA-256.

A session ends when it expires, on logout, when its user is disabled or deleted, and when the
user sets a new password (every other session of that user).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.clock import now
from relaygate.store.schema import sessions

COOKIE_NAME = "relaygate_session"


@dataclass(frozen=True)
class Session:
    id: str
    user_id: int
    csrf_token: str
    expires_at: int


def session_id(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def open_session(conn: AsyncConnection, user_id: int, ip: str, ttl: int) -> tuple[str, Session]:
    """A new session; returns the cookie secret (never stored) and the session."""
    secret = secrets.token_urlsafe(32)
    session = Session(session_id(secret), user_id, secrets.token_urlsafe(32), now() + ttl)
    await conn.execute(
        insert(sessions).values(
            id=session.id,
            user_id=user_id,
            csrf_token=session.csrf_token,
            ip=ip,
            created_at=now(),
            expires_at=session.expires_at,
        )
    )
    return secret, session


async def find_session(conn: AsyncConnection, secret: str) -> Session | None:
    """The live session behind a cookie secret, or None (unknown, ended or expired)."""
    row = (
        await conn.execute(select(sessions).where(sessions.c.id == session_id(secret), sessions.c.expires_at > now()))
    ).first()
    if row is None:
        return None
    return Session(row.id, row.user_id, row.csrf_token, row.expires_at)


async def close_session(conn: AsyncConnection, session: Session) -> None:
    await conn.execute(delete(sessions).where(sessions.c.id == session.id))


async def close_user_sessions(conn: AsyncConnection, user_id: int, *, keep: Session | None = None) -> None:
    """End every session of a user (all but `keep`), and prune expired ones while at it."""
    query = delete(sessions).where(sessions.c.user_id == user_id)
    if keep is not None:
        query = query.where(sessions.c.id != keep.id)
    await conn.execute(query)
    await conn.execute(delete(sessions).where(sessions.c.expires_at <= now()))
