"""Password recovery: an administrator (or the operator's CLI) sets a user's password."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from relaygate.accounts.sessions import close_user_sessions
from relaygate.users.service import set_password


async def reset_password(conn: AsyncConnection, user_id: int, password: str) -> None:
    """Set the password and end every session of the user: whoever held one must log in with the new one."""
    await set_password(conn, user_id, password)
    await close_user_sessions(conn, user_id)
